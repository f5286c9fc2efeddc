/**
 * Every failure of `@ringtrain/model`, one class per failure mode, each with a stable string
 * `code` that callers (and the wire protocol) can match on without parsing messages.
 */
export type ModelErrorCode =
  | 'RINGTRAIN_MODEL_INVALID_SPEC'
  | 'RINGTRAIN_MODEL_INVALID_BATCH'
  | 'RINGTRAIN_MODEL_INVALID_OPTIONS'
  | 'RINGTRAIN_MODEL_FLAT_LENGTH_MISMATCH'
  | 'RINGTRAIN_MODEL_CHECKPOINT_CORRUPT'
  | 'RINGTRAIN_MODEL_CHECKPOINT_MISMATCH'
  | 'RINGTRAIN_MODEL_UNKNOWN_VARIABLE'
  | 'RINGTRAIN_MODEL_DISPOSED';

export abstract class ModelError extends Error {
  abstract readonly code: ModelErrorCode;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A `ResNetSpec` names an unknown depth or stem, or a size, width or count out of range. */
export class InvalidResNetSpecError extends ModelError {
  readonly code = 'RINGTRAIN_MODEL_INVALID_SPEC';
}

/** Images or labels handed to a training or evaluation step do not fit the model. */
export class InvalidBatchError extends ModelError {
  readonly code = 'RINGTRAIN_MODEL_INVALID_BATCH';
}

/** Optimizer, learning-rate schedule or trainer options out of range. */
export class InvalidOptionsError extends ModelError {
  readonly code = 'RINGTRAIN_MODEL_INVALID_OPTIONS';
}

/** An averaged flat vector whose length differs from the model's flat layout. */
export class FlatLengthMismatchError extends ModelError {
  readonly code = 'RINGTRAIN_MODEL_FLAT_LENGTH_MISMATCH';
}

/** Checkpoint bytes that are truncated, carry the wrong magic or version, or are inconsistent. */
export class CheckpointStateCorruptError extends ModelError {
  readonly code = 'RINGTRAIN_MODEL_CHECKPOINT_CORRUPT';
}

/** A well-formed checkpoint written for a different model (another flat layout). */
export class CheckpointStateMismatchError extends ModelError {
  readonly code = 'RINGTRAIN_MODEL_CHECKPOINT_MISMATCH';
}

/** A variable name that the model does not have. */
export class UnknownVariableError extends ModelError {
  readonly code = 'RINGTRAIN_MODEL_UNKNOWN_VARIABLE';
}

/** A model or trainer used after `dispose()`. */
export class DisposedError extends ModelError {
  readonly code = 'RINGTRAIN_MODEL_DISPOSED';
}

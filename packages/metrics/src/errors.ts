/**
 * Every failure mode of `@ringtrain/metrics`, one class each, with a stable string `code` that
 * callers match on instead of the message text.
 */

/** The stable codes of this package's errors. */
export const METRICS_ERROR_CODES = {
  invalidOption: 'RINGTRAIN_METRICS_INVALID_OPTION',
  invalidValue: 'RINGTRAIN_METRICS_INVALID_VALUE',
  invalidLabelValue: 'RINGTRAIN_METRICS_INVALID_LABEL_VALUE',
  tooManyLabelValues: 'RINGTRAIN_METRICS_TOO_MANY_LABEL_VALUES',
} as const;

export type MetricsErrorCode = (typeof METRICS_ERROR_CODES)[keyof typeof METRICS_ERROR_CODES];

/** The base of every error thrown by `@ringtrain/metrics`. */
export abstract class MetricsError extends Error {
  abstract readonly code: MetricsErrorCode;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A factory option has a value the metrics cannot be built with. */
export class InvalidMetricsOptionError extends MetricsError {
  readonly code = METRICS_ERROR_CODES.invalidOption;
}

/** A value handed to an update method is out of range (a negative duration, a ratio above 1, …). */
export class InvalidMetricValueError extends MetricsError {
  readonly code = METRICS_ERROR_CODES.invalidValue;
}

/** A label value (a worker state, a failure reason) is not a short lower-case word. */
export class InvalidLabelValueError extends MetricsError {
  readonly code = METRICS_ERROR_CODES.invalidLabelValue;
}

/**
 * A label would take more distinct values than allowed: every value is a time series kept
 * forever by Prometheus, so an unbounded label (an error message, a worker id) is refused.
 */
export class TooManyLabelValuesError extends MetricsError {
  readonly code = METRICS_ERROR_CODES.tooManyLabelValues;
}

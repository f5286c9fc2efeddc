/**
 * Checkpoint files: one replica's weights and optimizer state, where the run stood in the data
 * set's order, and the configuration it was trained with.
 *
 * Layout (little-endian):
 *   8 bytes   magic "RTCKPT01"
 *   4 bytes   header length H
 *   H bytes   header, UTF-8 JSON (`CheckpointHeader`)
 *   N bytes   the state bytes (`Trainer.getState()`), N = header.stateBytes
 *   32 bytes  SHA-256 of everything before it
 *
 * A checkpoint is written to a temporary file in the same directory, flushed to disk, then
 * renamed over its final name, so a crash leaves either the old set of files or the new one,
 * never a torn file under a checkpoint's name. Reading verifies the length and the checksum.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { HyperParameters, ModelSpec } from '@ringtrain/protocol';
import { CheckpointCorruptError, CheckpointNotFoundError, CheckpointWriteError } from './errors.ts';
import type { SamplerPosition } from './machine/sharder.ts';

const MAGIC = Buffer.from('RTCKPT01', 'latin1');
const DIGEST_BYTES = 32;
const FILE_PATTERN = /^checkpoint-e(\d+)-s(\d+)\.rtck$/;

/** What a checkpoint says about itself. */
export interface CheckpointHeader {
  formatVersion: 1;
  createdAt: string;
  reason: 'epoch' | 'on-demand';
  /** Global steps done in the state. */
  step: number;
  position: SamplerPosition;
  model: ModelSpec;
  hyper: Omit<HyperParameters, 'batchSizePerWorker'>;
  /** The run settings a resumed run should keep (batch, epochs, sampler seed, learning rate). */
  run: Record<string, unknown>;
  stateBytes: number;
}

export interface Checkpoint {
  path: string;
  header: CheckpointHeader;
  state: Uint8Array;
}

/** The file name of the checkpoint of `step` in `epoch`; names sort by epoch then step. */
export function checkpointFileName(position: SamplerPosition, step: number): string {
  return `checkpoint-e${String(position.epoch).padStart(4, '0')}-s${String(step).padStart(9, '0')}.rtck`;
}

/** Encodes a checkpoint file's bytes. */
export function encodeCheckpoint(header: CheckpointHeader, state: Uint8Array): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length, 0);
  const body = Buffer.concat([MAGIC, length, json, state]);
  const digest = createHash('sha256').update(body).digest();
  return Buffer.concat([body, digest]);
}

/** Decodes and verifies a checkpoint file's bytes; `name` is used in errors. */
export function decodeCheckpoint(bytes: Uint8Array, name: string): { header: CheckpointHeader; state: Uint8Array } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < MAGIC.length + 4 + DIGEST_BYTES) throw new CheckpointCorruptError(`${name} is truncated: ${buf.length} bytes`);
  if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) throw new CheckpointCorruptError(`${name} is not a ringtrain checkpoint (bad magic)`);
  const body = buf.subarray(0, buf.length - DIGEST_BYTES);
  const digest = createHash('sha256').update(body).digest();
  if (!digest.equals(buf.subarray(buf.length - DIGEST_BYTES))) {
    throw new CheckpointCorruptError(`${name} fails its SHA-256 checksum (truncated or damaged file)`);
  }
  const headerLength = buf.readUInt32LE(MAGIC.length);
  const headerEnd = MAGIC.length + 4 + headerLength;
  if (headerEnd > body.length) throw new CheckpointCorruptError(`${name} announces a header of ${headerLength} bytes, longer than the file`);
  let header: CheckpointHeader;
  try {
    header = JSON.parse(body.subarray(MAGIC.length + 4, headerEnd).toString('utf8')) as CheckpointHeader;
  } catch (cause) {
    throw new CheckpointCorruptError(`${name} has a header that is not JSON`, { cause });
  }
  if (header.formatVersion !== 1) throw new CheckpointCorruptError(`${name} has format version ${String(header.formatVersion)}; this ringtrain reads version 1`);
  const state = body.subarray(headerEnd);
  if (state.length !== header.stateBytes) {
    throw new CheckpointCorruptError(`${name} holds ${state.length} state bytes, its header announces ${header.stateBytes}`);
  }
  return { header, state: new Uint8Array(state) };
}

/**
 * Writes a checkpoint atomically (temporary file, fsync, rename) and removes the oldest ones
 * beyond `keep`. Returns the final path.
 */
export async function writeCheckpoint(dir: string, header: CheckpointHeader, state: Uint8Array, keep: number): Promise<string> {
  const name = checkpointFileName(header.position, header.step);
  const path = join(dir, name);
  try {
    await writeFileAtomically(dir, name, encodeCheckpoint(header, state));
  } catch (cause) {
    throw new CheckpointWriteError(`writing checkpoint ${path} failed: ${(cause as Error).message}`, { cause });
  }
  const names = (await listCheckpointNames(dir)).filter((n) => n !== name);
  for (const old of names.slice(0, Math.max(0, names.length + 1 - keep))) await rm(join(dir, old), { force: true });
  return path;
}

/**
 * Writes `bytes` to `dir/name` so that a crash leaves the old file or the new one, never a torn
 * one: a temporary file in the same directory, flushed to disk, renamed over the name.
 */
export async function writeFileAtomically(dir: string, name: string, bytes: Uint8Array | string): Promise<string> {
  const path = join(dir, name);
  const temporary = join(dir, `.${name}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(dir, { recursive: true });
    const handle = await open(temporary, 'w');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
    await syncDirectory(dir);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  return path;
}

async function syncDirectory(dir: string): Promise<void> {
  // Makes the rename itself durable; some file systems refuse to open directories, which is fine.
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    /* best effort */
  }
}

/** Checkpoint file names in `dir`, oldest first. */
async function listCheckpointNames(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return names.filter((n) => FILE_PATTERN.test(n)).sort();
}

/** Reads and verifies one checkpoint file. */
export async function readCheckpoint(path: string): Promise<Checkpoint> {
  const { header, state } = decodeCheckpoint(await readFile(path), path);
  return { path, header, state };
}

/**
 * The newest checkpoint in `dir` that reads back whole. Damaged ones are skipped and reported
 * through `onSkipped`; when none is valid the error lists every file and why it was refused.
 */
export async function findNewestValidCheckpoint(dir: string, onSkipped: (path: string, problem: string) => void = () => {}): Promise<Checkpoint> {
  const names = (await listCheckpointNames(dir)).reverse();
  const problems: string[] = [];
  for (const name of names) {
    const path = join(dir, name);
    try {
      return await readCheckpoint(path);
    } catch (error) {
      const problem = (error as Error).message;
      problems.push(problem);
      onSkipped(path, problem);
    }
  }
  throw new CheckpointNotFoundError(
    names.length === 0
      ? `no checkpoint to resume from in ${dir} (files are named checkpoint-eEEEE-sSSSSSSSSS.rtck)`
      : `no valid checkpoint to resume from in ${dir}: ${problems.join('; ')}`,
  );
}

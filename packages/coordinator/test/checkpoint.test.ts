import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CheckpointCorruptError,
  CheckpointNotFoundError,
  decodeCheckpoint,
  encodeCheckpoint,
  findNewestValidCheckpoint,
  writeCheckpoint,
  type CheckpointHeader,
} from '../src/index.ts';

function header(step: number, epoch: number, stateBytes: number): CheckpointHeader {
  return {
    formatVersion: 1,
    createdAt: new Date(0).toISOString(),
    reason: 'epoch',
    step,
    position: { epoch, offset: 0 },
    model: { depth: 18, stem: 'small', widthMultiplier: 0.25, imageSize: 28, channels: 1, classes: 10, seed: 0, zeroInitResidual: false },
    hyper: { momentum: 0.9, nesterov: false, weightDecay: 0, labelSmoothing: 0, testTimeFlip: false, preprocess: { mean: 0.286, std: 0.353, augment: false, seed: 0 }, checksumEverySteps: 5, maxBucketBytes: 1024, compression: { method: 'none', rank: 2, startStep: 0 } },
    run: { epochs: 3 },
    stateBytes,
  };
}

const stateOf = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);

describe('checkpoint files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ringtrain-ckpt-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('read back exactly what was written', async () => {
    const state = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) % 256);
    const path = await writeCheckpoint(dir, header(10, 1, state.length), state, 3);
    const back = await findNewestValidCheckpoint(dir);
    expect(back.path).toBe(path);
    expect(back.header.step).toBe(10);
    expect(back.header.position).toEqual({ epoch: 1, offset: 0 });
    expect(back.state).toEqual(state);
  });

  it('leave no temporary file behind and keep only the newest few', async () => {
    for (let epoch = 1; epoch <= 5; epoch++) await writeCheckpoint(dir, header(epoch * 10, epoch, 8), stateOf(8, epoch), 2);
    const names = await readdir(dir);
    expect(names).toEqual(['checkpoint-e0004-s000000040.rtck', 'checkpoint-e0005-s000000050.rtck']);
  });

  it('fail their checksum when a single byte changes', () => {
    const bytes = encodeCheckpoint(header(1, 0, 16), stateOf(16, 9));
    const at = bytes.length - 40;
    bytes[at] = (bytes[at] ?? 0) ^ 1;
    expect(() => decodeCheckpoint(bytes, 'ckpt')).toThrow(CheckpointCorruptError);
    expect(() => decodeCheckpoint(bytes, 'ckpt')).toThrow('ckpt fails its SHA-256 checksum');
  });

  it('are refused when truncated or not checkpoints at all', () => {
    const bytes = encodeCheckpoint(header(1, 0, 16), stateOf(16, 9));
    expect(() => decodeCheckpoint(bytes.subarray(0, 20), 'short')).toThrow('short is truncated');
    expect(() => decodeCheckpoint(new TextEncoder().encode('PK\u0003\u0004 definitely a zip file, not ours at all, and long enough to pass the length check'), 'zip')).toThrow('zip is not a ringtrain checkpoint');
  });

  it('resume from the newest valid one, skipping a damaged newer one and saying why', async () => {
    await writeCheckpoint(dir, header(10, 1, 8), stateOf(8, 1), 5);
    const newest = await writeCheckpoint(dir, header(20, 2, 8), stateOf(8, 2), 5);
    const bytes = await readFile(newest);
    await writeFile(newest, bytes.subarray(0, bytes.length - 3));
    const skipped: string[] = [];
    const back = await findNewestValidCheckpoint(dir, (path, problem) => skipped.push(`${path}: ${problem}`));
    expect(back.header.step).toBe(10);
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toContain('checkpoint-e0002-s000000020.rtck');
  });

  it('report an empty directory with the file names looked for', async () => {
    await expect(findNewestValidCheckpoint(dir)).rejects.toThrow(CheckpointNotFoundError);
    await expect(findNewestValidCheckpoint(dir)).rejects.toThrow(`no checkpoint to resume from in ${dir}`);
  });
});

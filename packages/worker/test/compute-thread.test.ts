/**
 * The compute thread against the same compute in this thread, on the native backend: the same
 * steps give bit-identical weights; errors thrown there arrive here with their code; a gradient
 * handed out for a step that was never applied is not written over by the next step.
 */
import type { HyperParameters, ModelSpec } from '@ringtrain/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ComputeThreadError, modelCompute, threadedCompute, weightChecksum, type ComputeProvider, type ReplicaTrainer, type ThreadedComputeProvider } from '../src/index.ts';

const MODEL = { depth: 18, stem: 'small', widthMultiplier: 0.25, imageSize: 28, numClasses: 10, seed: 7 } as unknown as ModelSpec;
const HYPER = { momentum: 0.9, nesterov: false, weightDecay: 0.0005 } as unknown as HyperParameters;
const BATCH = 16;

function batch(step: number): { x: Float32Array; labels: Int32Array } {
  const x = Float32Array.from({ length: BATCH * 28 * 28 }, (_, i) => (((i * 7919 + step * 104_729) % 255) - 127) / 128);
  const labels = Int32Array.from({ length: BATCH }, (_, i) => (i * 3 + step) % 10);
  return { x, labels };
}

async function train(compute: ComputeProvider, steps: number): Promise<{ checksums: string[]; losses: number[] }> {
  const trainer = await compute.createTrainer(MODEL, HYPER);
  const checksums = [await trainer.weightChecksum()];
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const { x, labels } = batch(step);
    const { flat, loss } = await trainer.computeGradients(x, labels);
    losses.push(loss);
    await trainer.applyGradients(flat, 0.05);
    checksums.push(await trainer.weightChecksum());
  }
  await trainer.dispose();
  return { checksums, losses };
}

describe('a replica on a compute thread', () => {
  let threaded: ThreadedComputeProvider;
  let trainer: ReplicaTrainer;
  beforeAll(async () => {
    threaded = await threadedCompute('native', undefined, { threads: 1 });
  });
  afterAll(async () => {
    await threaded.close();
  });

  it('trains bit-identically to the same compute on this thread, and says it answers heartbeats meanwhile', async () => {
    const here = await train(await modelCompute('native', undefined, { threads: 1 }), 4);
    const apart = await train(threaded, 4);
    expect(apart.losses).toEqual(here.losses);
    expect(apart.checksums).toEqual(here.checksums);
    expect(new Set(apart.checksums).size).toBe(5);
    expect(threaded.backend).toBe('native');
    expect(threaded.heartbeatsDuringSteps).toBe(true);
  });

  it('hands over a state that restores the same weights, and names a corrupt one', async () => {
    trainer = await threaded.createTrainer(MODEL, HYPER);
    const { x, labels } = batch(0);
    const { flat } = await trainer.computeGradients(x, labels);
    await trainer.applyGradients(flat, 0.05);
    const trained = await trainer.weightChecksum();
    const state = await trainer.getState();
    const corrupt = state.slice();
    corrupt[0] = (corrupt[0] as number) ^ 0xff;
    const refused = await Promise.resolve(trainer.setState(corrupt)).then(
      () => null,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(ComputeThreadError);
    expect((refused as ComputeThreadError).thrownCode).toBe('RINGTRAIN_MODEL_CHECKPOINT_CORRUPT');
    expect((refused as Error).message).toMatch(/magic/);
    // The replica is untouched by the refused state, and the thread goes on serving.
    expect(await trainer.weightChecksum()).toBe(trained);
    const fresh = await threaded.createTrainer(MODEL, HYPER);
    expect(await fresh.weightChecksum()).not.toBe(trained);
    await fresh.setState(state);
    expect(await fresh.weightChecksum()).toBe(trained);
    trainer = fresh;
  });

  it('writes the gradient of the step after one that was cut short somewhere else', async () => {
    const first = await trainer.computeGradients(batch(1).x, batch(1).labels);
    const kept = weightChecksum(first.flat);
    // Never applied: a ring cut short may still hold `first.flat`.
    const second = await trainer.computeGradients(batch(2).x, batch(2).labels);
    expect(weightChecksum(first.flat)).toBe(kept);
    expect(weightChecksum(second.flat)).not.toBe(kept);
    const secondValues = weightChecksum(second.flat);
    await trainer.applyGradients(second.flat, 0.05);
    // Applied: the next step writes into the same shared memory.
    const third = await trainer.computeGradients(batch(3).x, batch(3).labels);
    expect(weightChecksum(third.flat)).not.toBe(secondValues);
    expect(weightChecksum(second.flat)).toBe(weightChecksum(third.flat));
    expect(weightChecksum(first.flat)).toBe(kept);
  });

  it('refuses every request once closed', async () => {
    const closing = await threadedCompute('native', undefined, { threads: 1 });
    const replica = await closing.createTrainer(MODEL, HYPER);
    await closing.close();
    await expect(Promise.resolve(replica.weightChecksum())).rejects.toBeInstanceOf(ComputeThreadError);
  });
});

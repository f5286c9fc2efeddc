/**
 * The overlapped step end to end inside one process: real replicas on compute threads (native
 * backend), announcing gradient segments while they compute, and a ring over in-memory links that
 * averages each as it arrives. Replicas must stay bit-identical and equal to the same steps run
 * without overlap.
 */
import type { CompressionSpec, HyperParameters, ModelSpec } from '@ringtrain/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RingAllReduce, createMemoryTransports } from '../src/allreduce/index.ts';
import { PlainReducer, threadedCompute, type ReplicaTrainer, type ThreadedComputeProvider } from '../src/index.ts';
import { startOverlappedStep } from '../src/overlapped-step.ts';

const MODEL = { depth: 18, stem: 'small', widthMultiplier: 0.25, imageSize: 16, channels: 1, classes: 10, seed: 7, zeroInitResidual: false } as ModelSpec;
const HYPER = { momentum: 0.9, nesterov: false, weightDecay: 0.0005 } as unknown as HyperParameters;
const NONE: CompressionSpec = { method: 'none', rank: 4, startStep: 0 };
const BATCH = 8;
const STEPS = 3;
// Small buckets, so that every segment spans several and some buckets span two segments.
const BUCKET_BYTES = 16 * 1024;

function batch(rank: number, step: number): { x: Float32Array; labels: Int32Array } {
  const x = Float32Array.from({ length: BATCH * 16 * 16 }, (_, i) => (((i * 7919 + step * 104_729 + rank * 31) % 255) - 127) / 128);
  const labels = Int32Array.from({ length: BATCH }, (_, i) => (i * 3 + step + rank) % 10);
  return { x, labels };
}

describe('an overlapped step on two replicas', () => {
  const threads: ThreadedComputeProvider[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 2; i++) threads.push(await threadedCompute('native', undefined, { threads: 1 }));
  });
  afterAll(async () => {
    await Promise.all(threads.map((t) => t.close()));
  });

  /** Trains both replicas STEPS steps; returns each step's checksums (rank 0, rank 1) and what happened first. */
  async function train(overlap: boolean): Promise<{ checksums: string[][]; segmentsBeforeResult: number[] }> {
    const trainers: ReplicaTrainer[] = await Promise.all(threads.map((t) => t.createTrainer(MODEL, HYPER)));
    const rings = createMemoryTransports(2).map((t) => new RingAllReduce(t, { maxBucketBytes: BUCKET_BYTES }));
    const reducer = new PlainReducer(NONE);
    const checksums: string[][] = [];
    const segmentsBeforeResult: number[] = [];
    for (let step = 0; step < STEPS; step++) {
      await Promise.all(
        trainers.map(async (trainer, rank) => {
          const { x, labels } = batch(rank, step);
          const ring = rings[rank] as RingAllReduce;
          if (!overlap) {
            const local = await trainer.computeGradients(x, labels);
            const reduced = await reducer.reduce(ring, local.flat, step);
            return trainer.applyGradients(reduced.data, 0.05);
          }
          let segments = 0;
          const counting: ReplicaTrainer = {
            ...trainer,
            computeGradients: (xs, ls, into, listener) =>
              trainer.computeGradients(xs, ls, into, (flat, start, end) => {
                segments++;
                listener?.(flat, start, end);
              }),
          };
          const { computed, reducing } = startOverlappedStep(counting, reducer, ring, x, labels, step);
          await computed;
          segmentsBeforeResult.push(segments);
          const reduced = await reducing;
          return trainer.applyGradients(reduced.data, 0.05);
        }),
      );
      checksums.push(await Promise.all(trainers.map((t) => t.weightChecksum())));
    }
    await Promise.all(trainers.map((t) => t.dispose()));
    return { checksums, segmentsBeforeResult };
  }

  it('keeps the replicas bit-identical and equal to the same steps without overlap', async () => {
    const plain = await train(false);
    const overlapped = await train(true);
    for (const [a, b] of overlapped.checksums) expect(a).toBe(b);
    expect(overlapped.checksums).toEqual(plain.checksums);
    expect(new Set(plain.checksums.map(([a]) => a)).size).toBe(STEPS);
    // Statistics, head, four stages and the stem, all announced before the step's result arrived.
    expect(overlapped.segmentsBeforeResult).toEqual(Array.from({ length: 2 * STEPS }, () => 7));
  });
});

describe('an overlapped step whose backward pass fails', () => {
  it('fails its all-reduce with the same error instead of leaving the ring waiting', async () => {
    const rings = createMemoryTransports(2).map((t) => new RingAllReduce(t, { maxBucketBytes: 64 }));
    const failing = {
      computeGradients: async (_x: Float32Array, _labels: Int32Array, _into?: Float32Array, listener?: (flat: Float32Array, start: number, end: number) => void) => {
        listener?.(new Float32Array(100), 60, 100);
        await new Promise((resolve) => setTimeout(resolve, 1));
        throw new Error('out of memory in layer2');
      },
    } as unknown as ReplicaTrainer;
    const { computed, reducing } = startOverlappedStep(failing, new PlainReducer(NONE), rings[0] as RingAllReduce, new Float32Array(1), new Int32Array(1), 0);
    const partner = (rings[1] as RingAllReduce).allReduce(new Float32Array(100), { step: 0, average: true });
    await expect(computed).rejects.toThrow('out of memory in layer2');
    await expect(reducing).rejects.toThrow('out of memory in layer2');
    await expect(partner).rejects.toThrow();
  });
});

describe('an overlapped step whose segments arrive out of order', () => {
  it('fails the step with an error naming the ranges instead of throwing inside the message handler', async () => {
    const rings = createMemoryTransports(2).map((t) => new RingAllReduce(t, { maxBucketBytes: 64 }));
    const flat = new Float32Array(100);
    const disordered = {
      computeGradients: async (_x: Float32Array, _labels: Int32Array, _into?: Float32Array, listener?: (flat: Float32Array, start: number, end: number) => void) => {
        listener?.(flat, 60, 100);
        listener?.(flat, 0, 30);
        return { loss: 1, correct: 0, count: 1, flat };
      },
    } as unknown as ReplicaTrainer;
    const { computed, reducing } = startOverlappedStep(disordered, new PlainReducer(NONE), rings[0] as RingAllReduce, new Float32Array(1), new Int32Array(1), 0);
    const partner = (rings[1] as RingAllReduce).allReduce(new Float32Array(100), { step: 0, average: true });
    await expect(computed).rejects.toThrow('elements [0, 30) cannot become final: the final suffix of this 100-element vector starts at 60');
    await expect(reducing).rejects.toThrow('elements [0, 30) cannot become final');
    await expect(partner).rejects.toThrow();
  });
});

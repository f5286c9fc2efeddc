/**
 * The delayed all-reduce schedule: real replicas (native backend, on compute threads and in this
 * process) and a ring over in-memory links. The replicas must stay bit-identical and equal the
 * staleness `delayed-steps.ts` documents, computed here step by step without any concurrency;
 * failures and stops must leave the in-flight gradient unapplied.
 */
import type { CompressionSpec, HyperParameters, ModelSpec } from '@ringtrain/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RingAllReduce, createMemoryTransports } from '../src/allreduce/index.ts';
import { runDelayedSteps, type DelayedStepHooks } from '../src/delayed-steps.ts';
import { modelCompute, PlainReducer, threadedCompute, type ComputeProvider, type ReduceOutcome, type ReplicaTrainer, type ThreadedComputeProvider } from '../src/index.ts';

const MODEL = { depth: 18, stem: 'small', widthMultiplier: 0.25, imageSize: 16, channels: 1, classes: 10, seed: 7, zeroInitResidual: false } as ModelSpec;
const HYPER = { momentum: 0.9, nesterov: false, weightDecay: 0.0005 } as unknown as HyperParameters;
const NONE: CompressionSpec = { method: 'none', rank: 4, startStep: 0 };
const BATCH = 8;
const STEPS = 4;
const LR = [0.05, 0.04, 0.03, 0.02];

function batch(rank: number, step: number): { x: Float32Array; labels: Int32Array } {
  const x = Float32Array.from({ length: BATCH * 16 * 16 }, (_, i) => (((i * 7919 + step * 104_729 + rank * 31) % 255) - 127) / 128);
  const labels = Int32Array.from({ length: BATCH }, (_, i) => (i * 3 + step + rank) % 10);
  return { x, labels };
}

type Schedule = 'plain' | 'delayed reference' | 'delayed';
type Computed = Awaited<ReturnType<ReplicaTrainer['computeGradients']>>;

/** Trains two replicas STEPS steps on `schedule`; returns each step's checksums (rank 0, rank 1). */
async function train(providers: readonly ComputeProvider[], schedule: Schedule): Promise<string[][]> {
  const trainers: ReplicaTrainer[] = await Promise.all(providers.map((p) => p.createTrainer(MODEL, HYPER)));
  const rings = createMemoryTransports(2).map((t) => new RingAllReduce(t, { maxBucketBytes: 16 * 1024 }));
  const reducers = [new PlainReducer(NONE), new PlainReducer(NONE)];
  const checksums: string[][] = Array.from({ length: STEPS }, () => []);
  const checksum = async (rank: number, step: number): Promise<void> => {
    (checksums[step] as string[])[rank] = await (trainers[rank] as ReplicaTrainer).weightChecksum();
  };
  await Promise.all(
    trainers.map(async (trainer, rank) => {
      const ring = rings[rank] as RingAllReduce;
      const reducer = reducers[rank] as PlainReducer;
      const compute = (step: number, into?: Float32Array): Promise<Computed> => {
        const { x, labels } = batch(rank, step);
        return Promise.resolve(trainer.computeGradients(x, labels, into));
      };
      const apply = async (step: number, flat: Float32Array): Promise<void> => {
        const reduced = await reducer.reduce(ring, flat, step);
        await trainer.applyGradients(reduced.data, LR[step] as number);
        await checksum(rank, step);
      };
      if (schedule === 'plain') {
        for (let step = 0; step < STEPS; step++) await apply(step, (await compute(step)).flat);
      } else if (schedule === 'delayed reference') {
        // One step after another: g_k on w_{k−1}, each copied out at once, so that no buffer
        // reuse of the trainer's can reach it.
        let previous = (await compute(0)).flat.slice();
        for (let step = 1; step < STEPS; step++) {
          const next = (await compute(step)).flat.slice();
          await apply(step - 1, previous);
          previous = next;
        }
        await apply(STEPS - 1, previous);
      } else {
        await runDelayedSteps<Computed>(STEPS, {
          compute: (i, into) => compute(i, into),
          gradientOf: (c) => c.flat,
          reduce: (i, c) => reducer.reduce(ring, c.flat, i),
          apply: async (i, _c, averaged) => {
            await trainer.applyGradients(averaged.data, LR[i] as number);
            await checksum(rank, i);
            return true;
          },
          abandoned: (i, _c, error) => {
            throw new Error(`step ${i} abandoned: ${String(error)}`);
          },
        });
      }
    }),
  );
  await Promise.all(trainers.map((t) => t.dispose()));
  return checksums;
}

describe.each([
  ['on compute threads', true],
  ['in this process', false],
])('the delayed all-reduce with replicas %s', (_name, threaded) => {
  const providers: ComputeProvider[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 2; i++) providers.push(threaded ? await threadedCompute('native', undefined, { threads: 1 }) : await modelCompute('native', undefined, { threads: 1 }));
  });
  afterAll(async () => {
    await Promise.all(providers.map((p) => (p as Partial<ThreadedComputeProvider>).close?.()));
  });

  it('keeps the replicas bit-identical, equal to the documented staleness and not to the plain steps', async () => {
    const delayed = await train(providers, 'delayed');
    const reference = await train(providers, 'delayed reference');
    const plain = await train(providers, 'plain');
    for (const [a, b] of delayed) expect(a).toBe(b);
    expect(delayed).toEqual(reference);
    // Step 0's gradient is fresh in both; from step 1 on the delayed one is a step stale.
    expect(delayed[0]).toEqual(plain[0]);
    for (let step = 1; step < STEPS; step++) expect(delayed[step]).not.toEqual(plain[step]);
    expect(new Set(delayed.map(([a]) => a)).size).toBe(STEPS);
  });
});

/** A schedule over fake gradients that records what it was asked to do. */
function recording(options: { failReduceAt?: number; stopComputeAt?: number }) {
  const log: string[] = [];
  const reducing = new Map<number, Float32Array>();
  const hooks: DelayedStepHooks<{ flat: Float32Array }> = {
    compute: async (i, into) => {
      if (i === options.stopComputeAt) return null;
      for (const held of reducing.values()) if (into === held) throw new Error(`step ${i} was handed the buffer a reduction holds`);
      log.push(`compute ${i}`);
      return { flat: into ?? new Float32Array(10) };
    },
    gradientOf: (c) => c.flat,
    reduce: async (i, c) => {
      reducing.set(i, c.flat);
      await new Promise((r) => setTimeout(r, 1));
      reducing.delete(i);
      if (i === options.failReduceAt) throw new Error(`peer lost in step ${i}`);
      return { data: c.flat, bytesSent: 0, bytesReceived: 0, waitMs: 0, calls: 1, compressed: false } satisfies ReduceOutcome;
    },
    apply: async (i) => {
      log.push(`apply ${i}`);
      return true;
    },
    abandoned: (i, _c, error) => {
      log.push(`abandoned ${i}${error === null ? '' : `: ${(error as Error).message}`}`);
    },
  };
  return { log, hooks };
}

describe('the delayed schedule', () => {
  it('applies each average after the next step is computed, and the last one before it returns', async () => {
    const { log, hooks } = recording({});
    await runDelayedSteps(4, hooks);
    expect(log).toEqual(['compute 0', 'compute 1', 'apply 0', 'compute 2', 'apply 1', 'compute 3', 'apply 2', 'apply 3']);
  });

  it('stops at a failed reduction, applying nothing of it or after it', async () => {
    const { log, hooks } = recording({ failReduceAt: 2 });
    await runDelayedSteps(6, hooks);
    expect(log).toEqual(['compute 0', 'compute 1', 'apply 0', 'compute 2', 'apply 1', 'compute 3', 'abandoned 2: peer lost in step 2']);
  });

  it('leaves the gradient in flight unapplied when the plan stops', async () => {
    const { log, hooks } = recording({ stopComputeAt: 2 });
    await runDelayedSteps(6, hooks);
    expect(log).toEqual(['compute 0', 'compute 1', 'apply 0', 'abandoned 1']);
  });

  it('leaves the gradient in flight unapplied when a computation throws', async () => {
    const { log, hooks } = recording({});
    const throwing = { ...hooks, compute: async (i: number, into: Float32Array | undefined) => (i === 2 ? Promise.reject(new Error('out of memory')) : hooks.compute(i, into)) };
    await expect(runDelayedSteps(6, throwing)).rejects.toThrow('out of memory');
    expect(log).toEqual(['compute 0', 'compute 1', 'apply 0', 'abandoned 1']);
  });
});

import { describe, expect, it } from 'vitest';
import { estimateTrainingMemory } from '../src/index.ts';

const GIB = 1024 ** 3;

describe('estimateTrainingMemory', () => {
  it('counts the parameters of the d2l ResNet-18 for one channel and ten classes', () => {
    expect(estimateTrainingMemory({ depth: 18 }, 128).parameters).toBe(11_175_370);
  });

  it('grows linearly with the batch, by the feature maps of one image each', () => {
    const one = estimateTrainingMemory({ depth: 50, widthMultiplier: 0.5 }, 1);
    const nine = estimateTrainingMemory({ depth: 50, widthMultiplier: 0.5 }, 9);
    expect(nine.activationsPerImage).toBe(one.activationsPerImage);
    expect((nine.workerBytes - one.workerBytes) / 8).toBeCloseTo(one.workerBytes - estimateTrainingMemory({ depth: 50, widthMultiplier: 0.5 }, 0).workerBytes, 6);
    expect(nine.coordinatorBytes).toBe(one.coordinatorBytes);
  });

  it('keeps about four times the feature maps at twice the image size', () => {
    const small = estimateTrainingMemory({ depth: 18, imageSize: 224 }, 1).activationsPerImage;
    const large = estimateTrainingMemory({ depth: 18, imageSize: 448 }, 1).activationsPerImage;
    expect(large / small).toBeGreaterThan(3.9);
    expect(large / small).toBeLessThan(4.1);
  });

  it('adds two f32 copies of the parameters per worker for a weight average, and at least one to the coordinator', () => {
    const plain = estimateTrainingMemory({ depth: 34, widthMultiplier: 0.5 }, 32);
    const averaged = estimateTrainingMemory({ depth: 34, widthMultiplier: 0.5 }, 32, { weightAverage: true });
    expect(averaged.workerBytes - plain.workerBytes).toBe(2 * 4 * plain.parameters);
    expect((averaged.coordinatorBytes - plain.coordinatorBytes) / (4 * plain.parameters)).toBeGreaterThanOrEqual(1);
    expect(estimateTrainingMemory({ depth: 34, widthMultiplier: 0.5 }, 32, { weightAverage: false })).toEqual(plain);
  });

  it('adds one f32 gradient per worker, and nothing to the coordinator, for the delayed all-reduce', () => {
    const plain = estimateTrainingMemory({ depth: 50, widthMultiplier: 0.5 }, 32);
    const delayed = estimateTrainingMemory({ depth: 50, widthMultiplier: 0.5 }, 32, { delayedAllReduce: true });
    expect(delayed.workerBytes - plain.workerBytes).toBe(4 * plain.parameters);
    expect(delayed.coordinatorBytes).toBe(plain.coordinatorBytes);
  });

  it('puts the main job within reach of a laptop, and ResNet-152 at width 8 and 1024 px far beyond it', () => {
    expect(estimateTrainingMemory({ depth: 18 }, 128).workerBytes).toBeLessThan(1 * GIB);
    expect(estimateTrainingMemory({ depth: 152, widthMultiplier: 8, imageSize: 1024 }, 128).workerBytes).toBeGreaterThan(100 * GIB);
  });
});

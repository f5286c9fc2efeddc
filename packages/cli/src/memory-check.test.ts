import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from './errors.ts';
import { checkMemory } from './memory-check.ts';

const GiB = 1024 ** 3;
const resnet152 = { depth: 152, imageSize: 96 } as const;

describe('the memory check of a run', () => {
  it('passes a run that fits', () => {
    expect(() => checkMemory({ depth: 18 }, 128, 2, true, 24 * GiB)).not.toThrow();
  });

  it('refuses one that does not, naming the model, the sizes and what to change', () => {
    expect(() => checkMemory(resnet152, 256, 4, true, 1 * GiB)).toThrow(InvalidArgumentError);
    expect(() => checkMemory(resnet152, 256, 4, true, 1 * GiB)).toThrow(/^ResNet-152 \(width ×1, 96×96, [\d.]+ M parameters\) at 256 images per worker needs about .* per worker; 4 worker\(s\) and the coordinator about .*, and this machine has 1\.0 GiB: lower --width, --image-size or --batch-size, start fewer workers here, or pass --no-memory-check$/);
  });

  it('names the options that keep a second copy, when they are on', () => {
    const refusal = (training: object): string => {
      try {
        checkMemory(resnet152, 256, 4, true, 1 * GiB, training);
      } catch (error) {
        return (error as Error).message;
      }
      throw new Error('not refused');
    };
    expect(refusal({})).not.toMatch(/--ema-decay|--delayed-allreduce/);
    expect(refusal({ weightAverage: true })).toContain('drop --ema-decay (a second copy of the weights)');
    expect(refusal({ weightAverage: true })).not.toContain('--delayed-allreduce');
    expect(refusal({ delayedAllReduce: true })).toContain('drop --delayed-allreduce (a second gradient)');
    expect(refusal({ weightAverage: true, delayedAllReduce: true })).toMatch(/lower --width, --image-size or --batch-size, drop --ema-decay .*, drop --delayed-allreduce .*, start fewer workers here/);
  });

  it('names, for a coordinator alone, only what changes its memory', () => {
    const coordinatorAlone = (): void => checkMemory({ depth: 152, widthMultiplier: 4 }, 256, 0, true, 64 * 1024 ** 2, { weightAverage: true, delayedAllReduce: true });
    expect(coordinatorAlone).toThrow(/the coordinator alone about .*: lower --width or --model, drop --ema-decay \(a second copy of the weights\), or pass --no-memory-check$/);
  });
});

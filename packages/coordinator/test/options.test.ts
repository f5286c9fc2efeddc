import { describe, expect, it } from 'vitest';
import { InvalidCoordinatorOptionError, resolveCoordinatorOptions } from '../src/index.ts';

const token = 'a-token-of-enough-length';

describe('coordinator options', () => {
  it('fill in the documented defaults', () => {
    const o = resolveCoordinatorOptions({ token });
    expect(o).toMatchObject({
      host: '127.0.0.1',
      port: 7070,
      minWorkers: 2,
      maxWorkers: 2,
      heartbeatIntervalMs: 1000,
      heartbeatTimeoutMs: 8000,
      firstStepHeartbeatTimeoutMs: 60_000,
      minWorkersWaitMs: 300_000,
      onStall: 'evict',
      ifFinished: 'refuse',
      maxRegroupsWithoutProgress: 20,
      batchScaling: 'fixed-global',
      ringOrder: 'hosts',
      stepLog: null,
      stallWarningMs: 60_000,
      stallTimeoutMs: 1_800_000,
      epochs: 1,
      globalBatchSize: 256,
      checksumEverySteps: 20,
      maxBucketBytes: 25 * 1024 * 1024,
      compression: { method: 'none', rank: 4, startStep: 20 },
      checkpointDir: null,
      throughputWindowMs: 30_000,
      maxSeriesPoints: 2000,
      statusIntervalMs: 500,
    });
    expect(o.model).toEqual({ depth: 18, stem: 'd2l', widthMultiplier: 1, imageSize: 28, channels: 1, classes: 10, seed: 0, zeroInitResidual: false });
    expect(o.learningRate).toMatchObject({ schedule: 'constant', baseLr: 0.05 });
  });

  it.each([
    [{ token: 'short' }, 'token must be a string of at least 16 characters'],
    [{ token, minWorkers: 0 }, 'minWorkers must be an integer from 1 to 1024, got 0'],
    [{ token, minWorkers: 3, maxWorkers: 2 }, 'maxWorkers (2) must be at least minWorkers (3)'],
    [{ token, heartbeatIntervalMs: 5000, heartbeatTimeoutMs: 1000 }, 'heartbeatTimeoutMs (1000) must be at least heartbeatIntervalMs (5000)'],
    [{ token, stallWarningMs: 5000, stallTimeoutMs: 1000 }, 'stallTimeoutMs (1000) must be 0 or at least stallWarningMs (5000)'],
    [{ token, port: 70_000 }, 'port must be an integer from 0 to 65535, got 70000'],
    [{ token, onStall: 'retry' as 'fail' }, 'onStall must be one of fail, evict, got retry'],
    [{ token, batchScaling: 'linear' as 'fixed-global' }, 'batchScaling must be one of fixed-global, fixed-per-worker, got linear'],
    [{ token, ringOrder: 'random' as 'hosts' }, 'ringOrder must be one of hosts, joined, got random'],
    [{ token, maxRegroupsWithoutProgress: 0 }, 'maxRegroupsWithoutProgress must be an integer from 1 up, got 0'],
    [{ token, datasetChunkBytes: 64 * 1024 * 1024 }, 'datasetChunkBytes (67108864) must leave 64 KiB of room below maxMessageBytes'],
    [{ token, maxMessageBytes: 1024 * 1024 }, 'maxMessageBytes must be an integer from 2097152 up, got 1048576'],
    [{ token, epochs: 1.5 }, 'epochs must be an integer from 1 up, got 1.5'],
    [{ token, resume: true }, 'resume needs checkpointDir'],
    [{ token, minWorkers: 2, globalBatchSize: 255 }, 'globalBatchSize 255 does not split evenly over minWorkers 2 (127.50 each): use 254 or 256'],
    [{ token, minWorkers: 1, maxWorkers: 4, globalBatchSize: 6 }, 'globalBatchSize 6 over up to 4 workers (maxWorkers) leaves 1 image(s) per worker per step; batch norm needs at least 2: use a globalBatchSize of 8 or more, or fewer maxWorkers'],
    [{ token, minWorkers: 1, globalBatchSize: 1 }, 'leaves 1 image(s) per worker per step; batch norm needs at least 2'],
    [{ token, httpToken: token }, 'httpToken must differ from token'],
    [{ token, maxHelloBytes: 100 }, 'maxHelloBytes must be an integer from 1024 to 67108864, got 100'],
    [{ token, learningRate: { baseLr: -1 } }, 'learningRate.baseLr must be a number of at least 0, got -1'],
    [{ token, model: { depth: 19 as 18 } }, 'model.depth must be one of 18, 34, 50, 101, 152, got 19'],
    [{ token, onDivergence: 'ignore' as 'warn' }, 'onDivergence must be one of fail, warn, got ignore'],
    [{ token, ifFinished: 'exit' as 'exit-0' }, 'ifFinished must be one of refuse, exit-0, serve, got exit'],
    [{ token, throughputWindowMs: 0 }, 'throughputWindowMs must be an integer from 1 up, got 0'],
    [{ token, maxSeriesPoints: 10 }, 'maxSeriesPoints must be an integer from 16 up, got 10'],
    [{ token, statusIntervalMs: -1 }, 'statusIntervalMs must be an integer from 0 up, got -1'],
    [{ token, compression: { method: 'zip' as 'none' } }, 'compression.method must be one of none, bf16, f16, powersgd, got zip'],
    [{ token, compression: { method: 'powersgd' as const, rank: 0 } }, 'compression.rank must be an integer from 1 to 256, got 0'],
    [{ token, compression: { method: 'powersgd' as const, startStep: -3 } }, 'compression.startStep must be an integer from 0 to 2147483647, got -3'],
  ])('refuses %j with a sentence naming the option', (input, message) => {
    expect(() => resolveCoordinatorOptions(input)).toThrow(InvalidCoordinatorOptionError);
    expect(() => resolveCoordinatorOptions(input)).toThrow(message);
  });
});

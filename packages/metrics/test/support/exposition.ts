/** Coordinator and worker registries with some activity, as a scrape in the middle of a run sees them. */
import { Registry } from 'prom-client';
import { createCoordinatorMetrics, createWorkerMetrics } from '../../src/index.ts';

export interface BusyRegistries {
  coordinator: Registry;
  worker: Registry;
}

export function busyRegistries(): BusyRegistries {
  const coordinator = new Registry();
  const c = createCoordinatorMetrics(coordinator, { version: '0.1.0', backend: 'cpu', model: 'resnet18' });
  c.setRunState('training');
  c.setPlan({ epochs: 2, stepsPerEpoch: 10 });
  c.startGeneration({ generation: 1, worldSize: 2 });
  c.setWorkers([
    { rank: 0, state: 'in-round' },
    { rank: 1, state: 'in-round' },
  ]);
  for (let step = 1; step <= 3; step++) {
    c.recordStep({
      epoch: 0,
      step,
      ranks: [0, 1].map((rank) => ({
        rank,
        examples: 128,
        correct: 40 + step,
        loss: 2 / step,
        computeSeconds: 0.8,
        allReduceSeconds: 0.05,
        waitSeconds: 0.01,
      })),
    });
  }
  c.recordEvaluation({ epoch: 0, loss: 0.6, accuracy: 0.78 });
  c.recordFailure('heartbeat_timeout');

  const worker = new Registry();
  const w = createWorkerMetrics(worker, { version: '0.1.0', backend: 'cpu', model: 'resnet18', rank: 1 });
  w.recordStep({ examples: 128, computeSeconds: 0.8, allReduceSeconds: 0.05, waitSeconds: 0.01 });
  w.recordAllReduce({ gradientBytes: 44_700_000, sentBytes: 44_700_000, receivedBytes: 44_700_000, seconds: 0.05 });
  w.setTensorMemory({ numTensors: 320, numBytes: 47_000_000 });
  w.recordFailure('peer_lost');
  return { coordinator, worker };
}

/** The metric families in a text exposition, with their `# TYPE`. */
export function familiesOf(exposition: string): Map<string, string> {
  const families = new Map<string, string>();
  for (const match of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) families.set(match[1]!, match[2]!);
  return families;
}

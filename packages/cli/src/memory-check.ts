/**
 * Whether a run fits this machine's memory, checked before anything starts: the ResNet's
 * estimated peak (`estimateTrainingMemory`) for the workers this machine runs, and for a local
 * coordinator. `--no-memory-check` skips it.
 */
import { totalmem } from 'node:os';
import { estimateTrainingMemory, formatBytes, resolveResNetSpec, type ResNetSpecInput, type TrainingMemoryOptions } from '@ringtrain/model';
import { InvalidArgumentError } from './errors.ts';

export interface MemoryCheckFlags {
  memoryCheck: boolean;
}

/** Refuses a run whose `workers` workers (and the coordinator, when `withCoordinator`) would not fit in this machine's memory. */
export function checkMemory(
  input: ResNetSpecInput,
  batchPerWorker: number,
  workers: number,
  withCoordinator: boolean,
  machineBytes = totalmem(),
  training: TrainingMemoryOptions = {},
): void {
  const model = resolveResNetSpec(input);
  const estimate = estimateTrainingMemory(model, batchPerWorker, training);
  const needed = estimate.workerBytes * workers + (withCoordinator ? estimate.coordinatorBytes : 0);
  if (needed <= machineBytes) return;
  const what = `ResNet-${model.depth} (width ×${model.widthMultiplier}, ${model.imageSize}×${model.imageSize}, ${(estimate.parameters / 1e6).toFixed(1)} M parameters) at ${batchPerWorker} images per worker`;
  const who = workers === 0 ? 'the coordinator alone' : `${workers} worker(s)${withCoordinator ? ' and the coordinator' : ''}`;
  throw new InvalidArgumentError(
    `${what} needs about ${formatBytes(estimate.workerBytes)} per worker; ${who} about ${formatBytes(needed)}, and this machine has ${formatBytes(machineBytes)}: ` +
      `${remedies(workers, training).join(', ')}, or pass --no-memory-check`,
  );
}

/**
 * What shrinks the estimate of what runs here: the model's size, the options that keep a second
 * copy of something, and the workers. A coordinator alone holds copies of the weights only.
 */
function remedies(workers: number, training: TrainingMemoryOptions): string[] {
  const weightAverage = training.weightAverage === true ? ['drop --ema-decay (a second copy of the weights)'] : [];
  if (workers === 0) return ['lower --width or --model', ...weightAverage];
  return [
    'lower --width, --image-size or --batch-size',
    ...weightAverage,
    ...(training.delayedAllReduce === true ? ['drop --delayed-allreduce (a second gradient)'] : []),
    'start fewer workers here',
  ];
}

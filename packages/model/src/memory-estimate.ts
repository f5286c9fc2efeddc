/**
 * How much memory training a ResNet takes, from its spec and batch alone (nothing is built): what
 * a worker process holds at its peak, and what the coordinator holds. Fitted on this project's
 * native backend (peak RSS of a process training two steps with momentum, seven models from
 * ResNet-18 to ResNet-152, 28 to 96 px, batch 32 to 128): within 3% on each. A worker holds
 * about 7.1 bytes per parameter byte (weights, gradients, the flat vector, momentum, a state
 * copy) and 4.0 per byte of the feature maps its forward pass keeps for the backward pass; the
 * estimate rounds both up, and adds the runtime, the images and the ring's buffers. A weight
 * average (`emaDecay`) is counted as what it adds by construction rather than fitted: one more copy
 * of the weights and running statistics, and that copy again in every state encoded.
 */
import { describeResNet, listParameters, type ResNetSpecInput } from './resnet.ts';

const MIB = 1024 * 1024;
const PARAMETER_FACTOR = 8;
const ACTIVATION_FACTOR = 4.5;
/** Node, tfjs and the native backend, the compute thread, a worker's share of the images, the ring's buffers. */
const WORKER_BASE_BYTES = 260 * MIB;
/** The coordinator: Node, the data set, and a few copies of the state (initial, held, a checkpoint being written). */
const COORDINATOR_BASE_BYTES = 400 * MIB;
const COORDINATOR_STATE_COPIES = 4;

export interface TrainingMemoryEstimate {
  /** Trainable values. */
  readonly parameters: number;
  /** Feature-map values one image leaves for the backward pass. */
  readonly activationsPerImage: number;
  /** A worker's peak resident memory at this batch per worker. */
  readonly workerBytes: number;
  /** The coordinator's resident memory. */
  readonly coordinatorBytes: number;
}

export interface TrainingMemoryOptions {
  /** The trainer keeps a weight average (`TrainerOptions.emaDecay` above 0). @default false */
  readonly weightAverage?: boolean;
  /**
   * The worker all-reduces one step's gradient while it computes the next (the delayed
   * all-reduce), so it holds a second gradient. @default false
   */
  readonly delayedAllReduce?: boolean;
}

export function estimateTrainingMemory(spec: ResNetSpecInput, batchPerWorker: number, options: TrainingMemoryOptions = {}): TrainingMemoryEstimate {
  const architecture = describeResNet(spec);
  const parameters = listParameters(architecture).reduce((sum, p) => sum + p.shape.reduce((a, b) => a * b, 1), 0);
  const { imageSize, channels } = architecture.spec;
  // The input, then each unit's output (convolution, batch norm and ReLU share a size), the
  // shortcut's and the sum of every block.
  let size = Math.ceil(imageSize / architecture.stem.conv.stride);
  let activations = imageSize * imageSize * channels + size * size * architecture.stem.conv.filters;
  if (architecture.stemMaxPool) size = Math.ceil(size / 2);
  activations += size * size * architecture.stem.conv.filters;
  for (const block of architecture.blocks) {
    let s = size;
    for (const unit of block.path) {
      s = Math.ceil(s / unit.conv.stride);
      activations += s * s * unit.conv.filters;
    }
    if (block.shortcut !== null) activations += s * s * block.shortcut.conv.filters;
    activations += s * s * block.outChannels;
    size = s;
  }
  const bytes = Float32Array.BYTES_PER_ELEMENT;
  // The average itself and its section of a state copy; a state holds values and momentum besides.
  const averageCopies = options.weightAverage === true ? 1 : 0;
  const secondGradient = options.delayedAllReduce === true ? 1 : 0;
  return {
    parameters,
    activationsPerImage: activations,
    workerBytes:
      WORKER_BASE_BYTES + (PARAMETER_FACTOR + 2 * averageCopies + secondGradient) * parameters * bytes + ACTIVATION_FACTOR * activations * batchPerWorker * bytes,
    coordinatorBytes: COORDINATOR_BASE_BYTES + COORDINATOR_STATE_COPIES * (2 + averageCopies) * parameters * bytes,
  };
}

/** `12.3 GiB`, `870 MiB`. */
export function formatBytes(bytes: number): string {
  return bytes >= 1024 * MIB ? `${(bytes / (1024 * MIB)).toFixed(1)} GiB` : `${Math.round(bytes / MIB)} MiB`;
}

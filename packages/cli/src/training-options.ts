/**
 * The training options `launch` and `coordinator` share, their defaults (shown by --help), and
 * their translation into `CoordinatorOptions`.
 */
import { Command, Option } from 'commander';
import type { CoordinatorOptions } from '@ringtrain/coordinator';
import { BACKEND_CHOICES, depthOf, integerIn, MODEL_NAMES, numberIn, type ModelName } from './arguments.ts';
import { LOG_FORMATS, LOG_LEVELS, type LogFormatChoice } from './logging.ts';

export interface TrainingFlags {
  model: ModelName;
  stem: 'd2l' | 'small';
  width: number;
  imageSize?: number;
  epochs?: number;
  batchSize: number;
  lr: number;
  lrSchedule: 'constant' | 'step' | 'cosine';
  warmupSteps: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  augment: boolean;
  seed: number;
  preset?: 'd2l';
  limitTrain?: number;
  limitTest?: number;
  dataDir?: string;
  allowDownload: boolean;
  checkpointDir?: string;
  checkpointEvery: number;
  resume: boolean;
  checksumEvery: number;
  maxBucketBytes: number;
  summaryJson?: string;
  maxMessageBytes: number;
  backend: (typeof BACKEND_CHOICES)[number];
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  logFormat: LogFormatChoice;
}

/** What `--preset d2l` stands for: the d2l chapter's recipe (inputs resized to 96, 10 epochs). */
export const PRESETS = { d2l: { imageSize: 96, epochs: 10 } } as const;
export const DEFAULT_IMAGE_SIZE = 28;
export const DEFAULT_EPOCHS = 1;

export function addTrainingOptions(command: Command): Command {
  return command
    .addOption(new Option('--model <name>', 'ResNet depth').choices(MODEL_NAMES).default('resnet18'))
    .addOption(new Option('--stem <stem>', 'd2l: 7×7/2 conv + max-pool (the d2l chapter); small: 3×3/1, for 28×28 inputs').choices(['d2l', 'small']).default('d2l'))
    .addOption(new Option('--width <factor>', 'width multiplier of every stage').argParser(numberIn(0, 8, { exclusiveMin: true })).default(1))
    .addOption(new Option('--image-size <px>', `side the images are resized to (default: ${DEFAULT_IMAGE_SIZE}, ${PRESETS.d2l.imageSize} with --preset d2l)`).argParser(integerIn(8, 1024)))
    .addOption(new Option('--epochs <n>', `passes over the training set (default: ${DEFAULT_EPOCHS}, ${PRESETS.d2l.epochs} with --preset d2l)`).argParser(integerIn(1, 100_000)))
    .addOption(new Option('--batch-size <n>', 'global batch per step, split evenly across the workers').argParser(integerIn(1, 1 << 20)).default(256))
    .addOption(new Option('--lr <rate>', 'SGD learning rate').argParser(numberIn(0)).default(0.05))
    .addOption(new Option('--lr-schedule <kind>', 'learning-rate schedule over the steps').choices(['constant', 'step', 'cosine']).default('constant'))
    .addOption(new Option('--warmup-steps <n>', 'steps of linear learning-rate warmup').argParser(integerIn(0)).default(0))
    .addOption(new Option('--momentum <m>', 'SGD momentum').argParser(numberIn(0, 1)).default(0))
    .addOption(new Option('--nesterov', 'Nesterov momentum (needs --momentum above 0)').default(false))
    .addOption(new Option('--weight-decay <wd>', 'L2 weight decay').argParser(numberIn(0)).default(0))
    .addOption(new Option('--augment', 'random crop and horizontal flip').default(false))
    .addOption(new Option('--seed <n>', 'seed of the initial weights, the data order and the augmentation').argParser(integerIn(0, 2 ** 32 - 1)).default(0))
    .addOption(new Option('--preset <name>', 'a named recipe: d2l = image size 96, 10 epochs (for machines with GPUs)').choices(['d2l']))
    .addOption(new Option('--limit-train <k>', 'train on the first k training images (default: all 60000)').argParser(integerIn(1, 60_000)))
    .addOption(new Option('--limit-test <k>', 'evaluate on the first k test images (default: all 10000)').argParser(integerIn(0, 10_000)))
    .addOption(new Option('--data-dir <dir>', 'where Fashion-MNIST is (default: $FASHION_MNIST_DIR, /usr/share/datasets/fashion-mnist, the user cache)'))
    .addOption(new Option('--allow-download', 'download Fashion-MNIST when it is nowhere on disk').default(false))
    .addOption(new Option('--checkpoint-dir <dir>', 'write checkpoints there (default: none)'))
    .addOption(new Option('--checkpoint-every <epochs>', 'checkpoint every this many epochs').argParser(integerIn(1)).default(1))
    .addOption(new Option('--resume', 'continue from the newest valid checkpoint in --checkpoint-dir').default(false))
    .addOption(new Option('--checksum-every <steps>', 'compare the replicas\' weight checksums every this many steps (0: never)').argParser(integerIn(0)).default(20))
    .addOption(new Option('--max-bucket-bytes <n>', 'gradient bucket cap of the ring all-reduce').argParser(integerIn(4)).default(25 * 1024 * 1024))
    .addOption(new Option('--max-message-bytes <n>', 'largest message the coordinator port accepts; larger ones are refused with close code 1009').argParser(integerIn(2 * 1024 * 1024)).default(64 * 1024 * 1024))
    .addOption(new Option('--summary-json <file>', 'also write the final summary as JSON to this file'))
    .addOption(new Option('--backend <name>', 'compute backend of the workers').choices(BACKEND_CHOICES).default('auto'))
    .addOption(new Option('--log-level <level>', 'lowest level of the log lines written to stderr (default: info; warn for launch)').choices(LOG_LEVELS))
    .addOption(new Option('--log-format <format>', 'log lines for people (pretty) or for machines (json); auto: pretty on a terminal').choices(LOG_FORMATS).default('auto'));
}

/** Image size and epochs after the preset; explicit flags win over the preset. */
export function recipeOf(flags: TrainingFlags): { imageSize: number; epochs: number } {
  const preset = flags.preset === undefined ? undefined : PRESETS[flags.preset];
  return {
    imageSize: flags.imageSize ?? preset?.imageSize ?? DEFAULT_IMAGE_SIZE,
    epochs: flags.epochs ?? preset?.epochs ?? DEFAULT_EPOCHS,
  };
}

/** The coordinator options the training flags describe (the network options are added by the caller). */
export function coordinatorOptionsFrom(flags: TrainingFlags, token: string): CoordinatorOptions {
  const { imageSize, epochs } = recipeOf(flags);
  const options: CoordinatorOptions = {
    token,
    epochs,
    globalBatchSize: flags.batchSize,
    samplerSeed: flags.seed,
    model: { depth: depthOf(flags.model), stem: flags.stem, widthMultiplier: flags.width, imageSize, channels: 1, classes: 10, seed: flags.seed },
    momentum: flags.momentum,
    nesterov: flags.nesterov,
    weightDecay: flags.weightDecay,
    augment: flags.augment,
    augmentSeed: flags.seed,
    checksumEverySteps: flags.checksumEvery,
    maxBucketBytes: flags.maxBucketBytes,
    learningRate: { schedule: flags.lrSchedule, baseLr: flags.lr, warmupSteps: flags.warmupSteps },
    checkpointEveryEpochs: flags.checkpointEvery,
    resume: flags.resume,
    maxMessageBytes: flags.maxMessageBytes,
  };
  if (flags.checkpointDir !== undefined) options.checkpointDir = flags.checkpointDir;
  return options;
}

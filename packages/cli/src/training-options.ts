/**
 * The training options `launch` and `coordinator` share, their defaults (shown by --help), and
 * their translation into `CoordinatorOptions`.
 */
import { Command, InvalidArgumentError as InvalidFlagValue, Option } from 'commander';
import { COMPRESSION_DEFAULTS, COMPRESSION_METHODS, type ConvolutionPrecision, type CoordinatorOptions } from '@ringtrain/coordinator';
import { PRECISION_CHOICES } from './precision.ts';
import { BACKEND_CHOICES, depthOf, integerIn, MODEL_NAMES, numberIn, type ModelName } from './arguments.ts';
import { InvalidArgumentError } from './errors.ts';
import { LOG_FORMATS, LOG_LEVELS, type LogFormatChoice } from './logging.ts';
import { DEFAULT_RECIPE, LR_REFERENCE_BATCH, PRESET_NAMES, PRESETS, resolveRecipe, type PresetName, type Recipe, type RecipeFlags } from './recipes.ts';

/** The recipe's flags are undefined unless given: the preset, then the default recipe, fill them in. */
export interface TrainingFlags extends RecipeFlags {
  model: ModelName;
  warmupSteps?: number;
  targetAccuracy?: number[];
  stopAtTarget: boolean;
  seed: number;
  preset?: PresetName;
  limitTrain?: number;
  limitTest?: number;
  dataDir?: string;
  allowDownload: boolean;
  checkpointDir?: string;
  checkpointEvery: number;
  resume: boolean;
  checksumEvery: number;
  maxBucketBytes: number;
  compression: (typeof COMPRESSION_METHODS)[number];
  powersgdRank: number;
  powersgdStartStep: number;
  overlap: boolean;
  delayedAllreduce: boolean;
  summaryJson?: string;
  maxMessageBytes: number;
  backend: (typeof BACKEND_CHOICES)[number];
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  logFormat: LogFormatChoice;
}

/** The help text's default: the default recipe's value, and what each preset changes. */
function byRecipe<K extends keyof Recipe>(key: K, show: (value: Recipe[K]) => string = String): string {
  const changes = PRESET_NAMES.flatMap((name) => {
    const value = PRESETS[name].recipe[key];
    return value === undefined || value === DEFAULT_RECIPE[key] ? [] : [`${show(value)} with --preset ${name}`];
  });
  return `(default: ${[show(DEFAULT_RECIPE[key]), ...changes].join(', ')})`;
}

const onOff = (value: boolean): string => (value ? 'on' : 'off');

/** `--name` and `--no-name`, undefined when neither is given. */
function toggle(command: Command, name: string, description: string, key: keyof Recipe): Command {
  return command
    .addOption(new Option(`--${name}`, `${description} ${byRecipe(key, (v) => onOff(v as boolean))}`))
    .addOption(new Option(`--no-${name}`, `turn ${name} off`).hideHelp());
}

/** A comma-separated list of test accuracies, each in (0, 1]. */
function accuracies(text: string): number[] {
  const values = text.split(',').map((part) => Number(part.trim()));
  const bad = values.findIndex((v) => !Number.isFinite(v) || v <= 0 || v > 1);
  if (text.trim() === '' || bad !== -1) {
    throw new InvalidFlagValue(`expected test accuracies between 0 and 1, separated by commas (e.g. 0.9,0.93), got '${text}'`);
  }
  return values;
}

export function addTrainingOptions(command: Command): Command {
  command
    .addOption(new Option('--model <name>', 'ResNet depth').choices(MODEL_NAMES).default('resnet18'))
    .addOption(new Option('--preset <name>', `a named recipe: ${PRESET_NAMES.map((n) => `${n} = ${PRESETS[n].summary}`).join('; ')}; flags given with it win`).choices(PRESET_NAMES))
    .addOption(new Option('--stem <stem>', `d2l: 7×7/2 conv + max-pool (the d2l chapter); small: 3×3/1, for 28×28 inputs; compact: 3×3/1 conv + max-pool ${byRecipe('stem')}`).choices(['d2l', 'small', 'compact']))
    .addOption(new Option('--width <factor>', `width multiplier of every stage ${byRecipe('width')}`).argParser(numberIn(0, 8, { exclusiveMin: true })))
    .addOption(new Option('--image-size <px>', `side the images are resized to ${byRecipe('imageSize')}`).argParser(integerIn(8, 1024)))
    .addOption(new Option('--epochs <n>', `passes over the training set ${byRecipe('epochs')}`).argParser(integerIn(1, 100_000)))
    .addOption(new Option('--batch-size <n>', `global batch per step, split evenly across the workers ${byRecipe('batchSize')}`).argParser(integerIn(1, 1 << 20)))
    .addOption(new Option('--lr <rate>', `peak SGD learning rate, taken as given (default: the recipe's rate for a batch of ${LR_REFERENCE_BATCH}, scaled linearly to --batch-size: ${byRecipe('lr').slice(10, -1)})`).argParser(numberIn(0)))
    .addOption(new Option('--lr-schedule <kind>', `learning-rate schedule over the run; onecycle: up during the warmup, then straight down to 0 ${byRecipe('lrSchedule')}`).choices(['constant', 'step', 'cosine', 'onecycle']))
    .addOption(new Option('--warmup-epochs <e>', `linear learning-rate warmup over this share of the epochs (e.g. 0.2) ${byRecipe('warmupEpochs')}`).argParser(numberIn(0)))
    .addOption(new Option('--warmup-steps <n>', 'linear learning-rate warmup over this many steps instead of --warmup-epochs').argParser(integerIn(0)))
    .addOption(new Option('--momentum <m>', `SGD momentum ${byRecipe('momentum')}`).argParser(numberIn(0, 1)))
    .addOption(new Option('--weight-decay <wd>', `L2 weight decay of the convolution and dense kernels (never of batch norm or biases) ${byRecipe('weightDecay')}`).argParser(numberIn(0)))
    .addOption(new Option('--label-smoothing <eps>', `label smoothing of the training loss ${byRecipe('labelSmoothing')}`).argParser(numberIn(0, 0.999)))
    .addOption(new Option('--crop-padding <px>', `with --augment, background pixels added on each side before the random crop (0: flip alone) ${byRecipe('cropPadding')}`).argParser(integerIn(0, 512)))
    .addOption(new Option('--ema-decay <d>', `evaluate an exponential moving average of the weights with this decay per step (e.g. 0.999; 0: the live weights) ${byRecipe('emaDecay')}`).argParser(numberIn(0, 1)));
  toggle(command, 'nesterov', 'Nesterov momentum (needs --momentum above 0)', 'nesterov');
  toggle(command, 'augment', 'random crop (see --crop-padding) and horizontal flip of the training images', 'augment');
  toggle(command, 'alternate-flips', 'with --augment, flip each image on every other epoch (the first side drawn at random) instead of at random each epoch', 'alternateFlips');
  toggle(command, 'zero-init-residual', 'start the batch-norm γ that ends each residual block at 0, so deep ResNets train from the first step', 'zeroInitResidual');
  toggle(command, 'test-time-flip', 'evaluate on each test image and its mirror, averaging the two predictions', 'testTimeFlip');
  toggle(command, 'ema-warmup', 'ramp the --ema-decay up as min(decay, (1 + step)/(10 + step)), so the average forgets the initial weights fast', 'emaWarmup');
  return command
    .addOption(new Option('--target-accuracy <list>', 'test accuracies to time: the summary, /status and the metrics give the wall time at which each was first reached (e.g. 0.9,0.913,0.93)').argParser(accuracies))
    .addOption(new Option('--stop-at-target', 'end the run after the epoch whose evaluation reached every --target-accuracy').default(false))
    .addOption(new Option('--seed <n>', 'seed of the initial weights, the data order and the augmentation').argParser(integerIn(0, 2 ** 32 - 1)).default(0))
    .addOption(new Option('--limit-train <k>', 'train on the first k training images (default: all 60000)').argParser(integerIn(1, 60_000)))
    .addOption(new Option('--limit-test <k>', 'evaluate on the first k test images (default: all 10000)').argParser(integerIn(0, 10_000)))
    .addOption(new Option('--data-dir <dir>', 'where Fashion-MNIST is (default: $FASHION_MNIST_DIR, /usr/share/datasets/fashion-mnist, the user cache)'))
    .addOption(new Option('--allow-download', 'download Fashion-MNIST when it is nowhere on disk').default(false))
    .addOption(new Option('--checkpoint-dir <dir>', 'write checkpoints there (default: none)'))
    .addOption(new Option('--checkpoint-every <epochs>', 'checkpoint every this many epochs').argParser(integerIn(1)).default(1))
    .addOption(new Option('--resume', 'continue from the newest valid checkpoint in --checkpoint-dir').default(false))
    .addOption(new Option('--checksum-every <steps>', 'compare the replicas\' weight checksums every this many steps (0: never)').argParser(integerIn(0)).default(20))
    .addOption(new Option('--max-bucket-bytes <n>', 'gradient bucket cap of the ring all-reduce').argParser(integerIn(4)).default(25 * 1024 * 1024))
    .addOption(
      new Option('--compression <method>', 'how gradients travel in the all-reduce: none (f32), bf16 or f16 (16 bits with error feedback), powersgd (low-rank factors)')
        .choices(COMPRESSION_METHODS)
        .default(COMPRESSION_DEFAULTS.method),
    )
    .addOption(new Option('--powersgd-rank <r>', 'rank of the PowerSGD factors (with --compression powersgd)').argParser(integerIn(1, 256)).default(COMPRESSION_DEFAULTS.rank))
    .addOption(
      new Option('--powersgd-start-step <step>', 'global step PowerSGD starts at; the steps before are all-reduced uncompressed')
        .argParser(integerIn(0, 2 ** 31 - 1))
        .default(COMPRESSION_DEFAULTS.startStep),
    )
    .addOption(new Option('--overlap', 'all-reduce each gradient bucket while the backward pass computes the rest (needs --compression none)').default(false))
    .addOption(
      new Option('--delayed-allreduce', "average each step's gradient while the next step computes and apply it after: hides the all-reduce behind a whole step, one step stale (not with --overlap)")
        .default(false)
        .conflicts('overlap'),
    )
    .addOption(
      new Option(
        '--precision <type>',
        `what the convolutions compute in: f32; bf16 inputs with float32 accumulation and master weights (native backend, CPUs with AVX512-BF16 or AMX); auto: bf16 where launch's local workers can, else f32 ${byRecipe('precision')}`,
      ).choices(PRECISION_CHOICES),
    )
    .addOption(new Option('--max-message-bytes <n>', 'largest message the coordinator port accepts; larger ones are refused with close code 1009').argParser(integerIn(2 * 1024 * 1024)).default(64 * 1024 * 1024))
    .addOption(new Option('--summary-json <file>', 'also write the final summary as JSON to this file'))
    .addOption(new Option('--backend <name>', 'compute backend of the workers').choices(BACKEND_CHOICES).default('auto'))
    .addOption(new Option('--log-level <level>', 'lowest level of the log lines written to stderr (default: info; warn for launch)').choices(LOG_LEVELS))
    .addOption(new Option('--log-format <format>', 'log lines for people (pretty) or for machines (json); auto: pretty on a terminal').choices(LOG_FORMATS).default('auto'));
}

/** The recipe the flags ask for: flags over the preset over the default. */
export function recipeOf(flags: TrainingFlags): Recipe {
  return resolveRecipe(flags, flags.preset);
}

/** The coordinator options the training flags describe (the network options are added by the caller), with the run's resolved `precision`. */
export function coordinatorOptionsFrom(flags: TrainingFlags, token: string, precision: ConvolutionPrecision): CoordinatorOptions {
  const recipe = recipeOf(flags);
  if (recipe.nesterov && recipe.momentum === 0) {
    throw new InvalidArgumentError('--nesterov needs --momentum above 0 (the recipe has momentum 0; give --momentum or --no-nesterov)');
  }
  if (recipe.alternateFlips && !recipe.augment) {
    throw new InvalidArgumentError('--alternate-flips needs --augment (the recipe flips no image; give --augment or --no-alternate-flips)');
  }
  if (flags.cropPadding !== undefined && !recipe.augment) {
    throw new InvalidArgumentError('--crop-padding needs --augment (the recipe crops no image; give --augment or leave --crop-padding out)');
  }
  if (recipe.augment && recipe.cropPadding > Math.floor(recipe.imageSize / 2)) {
    throw new InvalidArgumentError(`--crop-padding ${recipe.cropPadding} is more than half of --image-size ${recipe.imageSize} (${Math.floor(recipe.imageSize / 2)}): a crop would show mostly background`);
  }
  if (recipe.emaWarmup && recipe.emaDecay === 0) {
    throw new InvalidArgumentError('--ema-warmup needs --ema-decay above 0 (the recipe keeps no weight average; give --ema-decay or --no-ema-warmup)');
  }
  const options: CoordinatorOptions = {
    token,
    epochs: recipe.epochs,
    globalBatchSize: recipe.batchSize,
    samplerSeed: flags.seed,
    model: {
      depth: depthOf(flags.model),
      stem: recipe.stem,
      widthMultiplier: recipe.width,
      imageSize: recipe.imageSize,
      channels: 1,
      classes: 10,
      seed: flags.seed,
      zeroInitResidual: recipe.zeroInitResidual,
    },
    momentum: recipe.momentum,
    nesterov: recipe.nesterov,
    weightDecay: recipe.weightDecay,
    labelSmoothing: recipe.labelSmoothing,
    testTimeFlip: recipe.testTimeFlip,
    emaDecay: recipe.emaDecay,
    emaWarmup: recipe.emaWarmup,
    augment: recipe.augment,
    alternateFlips: recipe.alternateFlips,
    ...(recipe.augment ? { cropPaddingPx: recipe.cropPadding } : {}),
    augmentSeed: flags.seed,
    targetAccuracies: flags.targetAccuracy ?? [],
    stopAtTargetAccuracy: flags.stopAtTarget,
    checksumEverySteps: flags.checksumEvery,
    maxBucketBytes: flags.maxBucketBytes,
    compression: { method: flags.compression, rank: flags.powersgdRank, startStep: flags.powersgdStartStep },
    overlap: flags.overlap,
    delayedAllReduce: flags.delayedAllreduce,
    precision,
    learningRate: {
      schedule: recipe.lrSchedule,
      baseLr: recipe.lr,
      ...(flags.warmupSteps === undefined ? { warmupEpochs: recipe.warmupEpochs } : { warmupSteps: flags.warmupSteps }),
    },
    checkpointEveryEpochs: flags.checkpointEvery,
    resume: flags.resume,
    maxMessageBytes: flags.maxMessageBytes,
  };
  if (flags.checkpointDir !== undefined) options.checkpointDir = flags.checkpointDir;
  return options;
}

/**
 * The ResNet family, built from the one table in `resnet-table.ts`.
 *
 * Why raw tfjs-core ops rather than a tfjs-layers model: the training step needs things a
 * Layers model does not give. Its BatchNormalization writes the running statistics into its
 * variables during the forward pass (we must instead hand them to the all-reduce and write the
 * averaged values afterwards), uses the biased batch variance for them (PyTorch, whose
 * hyper-parameters we follow, uses the unbiased one) and runs tfjs's generic batch-norm
 * gradient (we use a cheaper closed form, see `batch-norm.ts`). The architecture is therefore
 * described once, as plain data (`describeResNet`), and interpreted twice: by `ResNet.forward`
 * here for training and evaluation, and by `layers-export.ts`, which builds the same graph with
 * the tfjs-layers functional API only to write the TF.js Layers format. A test checks that the
 * two give the same predictions.
 */
import * as tf from '@tensorflow/tfjs-core';

import './register-gradients.ts';

import { batchNormInference, batchNormTrain } from './batch-norm.ts';
import type { BatchMoments } from './batch-norm.ts';
import { DisposedError, InvalidBatchError, InvalidResNetSpecError, UnknownVariableError } from './errors.ts';
import {
  BATCH_NORM_EPSILON,
  BLOCK_EXPANSION,
  RESNET_DEPTHS,
  RESNET_TABLE,
  STAGE_STRIDES,
  STAGE_WIDTHS,
  STEM_WIDTH,
  STEMS,
} from './resnet-table.ts';
import type { BlockKind, ResNetDepth, StemKind } from './resnet-table.ts';
import { withDefaults } from './with-defaults.ts';
import { createRandom, fillNormal, fillUniform } from './seeded-random.ts';

export interface ResNetSpec {
  /** One of 18, 34, 50, 101, 152. */
  readonly depth: ResNetDepth;
  /**
   * `d2l`: 7×7/2 convolution, BN, ReLU, 3×3/2 max-pool; `small`: 3×3/1 convolution, BN, ReLU.
   * @default 'd2l'
   */
  readonly stem: StemKind;
  /** Scales the stem and the stage widths 64/128/256/512 (rounded, at least 1). @default 1 */
  readonly widthMultiplier: number;
  /** Height and width of the square input images, in pixels. @default 28 */
  readonly imageSize: number;
  /** Input channels. @default 1 */
  readonly channels: number;
  /** Output classes. @default 10 */
  readonly classes: number;
  /** Seed of the deterministic initialisation, an integer in [0, 2³²). @default 0 */
  readonly seed: number;
  /**
   * Start the batch-norm scale γ that ends every residual path at 0, so each block begins as the
   * identity and a deep network trains like a shallow one at first (Goyal et al., 2017;
   * torchvision's `zero_init_residual`).
   * @default false
   */
  readonly zeroInitResidual: boolean;
}

/** A spec where everything but the depth may be left to its default. */
export type ResNetSpecInput = Pick<ResNetSpec, 'depth'> & Partial<Omit<ResNetSpec, 'depth'>>;

export interface ConvLayerSpec {
  readonly name: string;
  readonly kernelSize: number;
  readonly stride: number;
  readonly inChannels: number;
  readonly filters: number;
}

export interface BatchNormLayerSpec {
  readonly name: string;
  readonly channels: number;
}

/** A bias-free convolution, its batch norm and (unless it ends a residual path) a ReLU. */
export interface ConvBnSpec {
  readonly conv: ConvLayerSpec;
  readonly bn: BatchNormLayerSpec;
  readonly relu: boolean;
}

export interface ResidualBlockSpec {
  /** torchvision's module path, e.g. `layer3.1`. */
  readonly name: string;
  readonly kind: BlockKind;
  readonly path: readonly ConvBnSpec[];
  /** 1×1 convolution + BN, present exactly when the stride or the width changes. */
  readonly shortcut: ConvBnSpec | null;
  readonly outChannels: number;
}

export interface DenseLayerSpec {
  readonly name: string;
  readonly inFeatures: number;
  readonly units: number;
}

export interface ResNetArchitecture {
  readonly spec: ResNetSpec;
  readonly stem: ConvBnSpec;
  readonly stemMaxPool: boolean;
  readonly blocks: readonly ResidualBlockSpec[];
  readonly head: DenseLayerSpec;
  /** Height and width of the last feature map, before global average pooling. */
  readonly featureMapSize: number;
}

export type ParameterRole = 'conv-kernel' | 'bn-gamma' | 'bn-beta' | 'dense-kernel' | 'dense-bias';
export type StatisticRole = 'bn-moving-mean' | 'bn-moving-variance';

/** One trainable tensor of the model, in tfjs layouts (conv kernels HWIO, dense kernels [in, out]). */
export interface ParameterSpec {
  /** Keras-style `layer/weight`, e.g. `layer1.0.conv1/kernel`. */
  readonly name: string;
  readonly layer: string;
  readonly shape: readonly number[];
  readonly role: ParameterRole;
  /** Inputs feeding one output (kh·kw·in for a convolution, in for the dense layer). */
  readonly fanIn: number;
  /** Outputs fed by one input (kh·kw·out for a convolution, out for the dense layer). */
  readonly fanOut: number;
  /** The γ of the batch norm that ends a residual path (before the addition). */
  readonly endsResidualPath?: boolean;
}

/** One batch-norm running statistic, e.g. `layer1.0.bn1/moving_mean`. */
export interface StatisticSpec {
  readonly name: string;
  readonly layer: string;
  readonly shape: readonly [number];
  readonly role: StatisticRole;
}

const DEFAULT_SPEC: Omit<ResNetSpec, 'depth'> = {
  stem: 'd2l',
  widthMultiplier: 1,
  imageSize: 28,
  channels: 1,
  classes: 10,
  seed: 0,
  zeroInitResidual: false,
};

/** Fills in defaults and validates; every error names the field and the value. */
export function resolveResNetSpec(input: ResNetSpecInput): ResNetSpec {
  const spec = withDefaults<ResNetSpec>({ ...DEFAULT_SPEC, depth: input.depth }, input);
  if (!(RESNET_DEPTHS as readonly number[]).includes(spec.depth)) {
    throw new InvalidResNetSpecError(
      `ResNet depth ${String(spec.depth)} is not in the table; use one of ${RESNET_DEPTHS.join(', ')}`,
    );
  }
  if (!Object.hasOwn(STEMS, spec.stem)) {
    throw new InvalidResNetSpecError(`ResNet stem '${String(spec.stem)}' is unknown; use 'd2l', 'small' or 'compact'`);
  }
  if (!Number.isFinite(spec.widthMultiplier) || spec.widthMultiplier <= 0) {
    throw new InvalidResNetSpecError(`widthMultiplier must be a positive number, got ${spec.widthMultiplier}`);
  }
  requireInteger('imageSize', spec.imageSize, 1);
  requireInteger('channels', spec.channels, 1);
  requireInteger('classes', spec.classes, 1);
  requireInteger('seed', spec.seed, 0, 2 ** 32 - 1);
  if (typeof spec.zeroInitResidual !== 'boolean') {
    throw new InvalidResNetSpecError(`zeroInitResidual must be true or false, got ${String(spec.zeroInitResidual)}`);
  }
  return spec;
}

function requireInteger(field: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidResNetSpecError(`${field} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
}

/** A width after the multiplier: rounded, never below one channel. */
export function scaleWidth(width: number, multiplier: number): number {
  return Math.max(1, Math.round(width * multiplier));
}

/** Output size of a 'same'-padded layer. */
function sameOutputSize(size: number, stride: number): number {
  return Math.ceil(size / stride);
}

function convBn(
  convName: string,
  bnName: string,
  kernelSize: number,
  stride: number,
  inChannels: number,
  filters: number,
  relu: boolean,
): ConvBnSpec {
  return {
    conv: { name: convName, kernelSize, stride, inChannels, filters },
    bn: { name: bnName, channels: filters },
    relu,
  };
}

/** The whole architecture as plain data: no tensors, no backend. */
export function describeResNet(input: ResNetSpecInput): ResNetArchitecture {
  const spec = resolveResNetSpec(input);
  const row = RESNET_TABLE[spec.depth];
  const stemRow = STEMS[spec.stem];
  const expansion = BLOCK_EXPANSION[row.block];
  const stemWidth = scaleWidth(STEM_WIDTH, spec.widthMultiplier);
  const stem = convBn('conv1', 'bn1', stemRow.kernelSize, stemRow.stride, spec.channels, stemWidth, true);

  let size = sameOutputSize(spec.imageSize, stemRow.stride);
  if (stemRow.maxPool) size = sameOutputSize(size, 2);
  let inChannels = stemWidth;
  const blocks: ResidualBlockSpec[] = [];
  row.stageBlocks.forEach((count, stage) => {
    const width = scaleWidth(STAGE_WIDTHS[stage] ?? 0, spec.widthMultiplier);
    const outChannels = width * expansion;
    for (let index = 0; index < count; index++) {
      const stride = index === 0 ? (STAGE_STRIDES[stage] ?? 1) : 1;
      const name = `layer${stage + 1}.${index}`;
      const path =
        row.block === 'basic'
          ? [
              convBn(`${name}.conv1`, `${name}.bn1`, 3, stride, inChannels, width, true),
              convBn(`${name}.conv2`, `${name}.bn2`, 3, 1, width, width, false),
            ]
          : [
              convBn(`${name}.conv1`, `${name}.bn1`, 1, 1, inChannels, width, true),
              convBn(`${name}.conv2`, `${name}.bn2`, 3, stride, width, width, true),
              convBn(`${name}.conv3`, `${name}.bn3`, 1, 1, width, outChannels, false),
            ];
      const shortcut =
        stride !== 1 || inChannels !== outChannels
          ? convBn(`${name}.downsample.0`, `${name}.downsample.1`, 1, stride, inChannels, outChannels, false)
          : null;
      blocks.push({ name, kind: row.block, path, shortcut, outChannels });
      size = sameOutputSize(size, stride);
      inChannels = outChannels;
    }
  });
  return {
    spec,
    stem,
    stemMaxPool: stemRow.maxPool,
    blocks,
    head: { name: 'fc', inFeatures: inChannels, units: spec.classes },
    featureMapSize: size,
  };
}

/** Every conv+BN unit in model order: stem, then per block its path and then its shortcut. */
export function convBnUnits(architecture: ResNetArchitecture): ConvBnSpec[] {
  const units: ConvBnSpec[] = [architecture.stem];
  for (const block of architecture.blocks) {
    units.push(...block.path);
    if (block.shortcut !== null) units.push(block.shortcut);
  }
  return units;
}

/** The trainable tensors in model order (the order of the flat gradient). */
export function listParameters(architecture: ResNetArchitecture): ParameterSpec[] {
  const parameters: ParameterSpec[] = [];
  const residualEnds = new Set(architecture.blocks.map((block) => block.path[block.path.length - 1]?.bn.name));
  for (const { conv, bn } of convBnUnits(architecture)) {
    const area = conv.kernelSize * conv.kernelSize;
    parameters.push({
      name: `${conv.name}/kernel`,
      layer: conv.name,
      shape: [conv.kernelSize, conv.kernelSize, conv.inChannels, conv.filters],
      role: 'conv-kernel',
      fanIn: area * conv.inChannels,
      fanOut: area * conv.filters,
    });
    const perChannel = { layer: bn.name, shape: [bn.channels], fanIn: 1, fanOut: 1 };
    const gamma: ParameterSpec = { name: `${bn.name}/gamma`, role: 'bn-gamma', ...perChannel };
    parameters.push(residualEnds.has(bn.name) ? { ...gamma, endsResidualPath: true } : gamma);
    parameters.push({ name: `${bn.name}/beta`, role: 'bn-beta', ...perChannel });
  }
  const { head } = architecture;
  const dense = { layer: head.name, fanIn: head.inFeatures, fanOut: head.units };
  parameters.push({ name: `${head.name}/kernel`, shape: [head.inFeatures, head.units], role: 'dense-kernel', ...dense });
  parameters.push({ name: `${head.name}/bias`, shape: [head.units], role: 'dense-bias', ...dense });
  return parameters;
}

/** The batch-norm running statistics in model order: per layer its moving mean, then its moving variance. */
export function listStatistics(architecture: ResNetArchitecture): StatisticSpec[] {
  const statistics: StatisticSpec[] = [];
  for (const { bn } of convBnUnits(architecture)) {
    statistics.push({ name: `${bn.name}/moving_mean`, layer: bn.name, shape: [bn.channels], role: 'bn-moving-mean' });
    statistics.push({
      name: `${bn.name}/moving_variance`,
      layer: bn.name,
      shape: [bn.channels],
      role: 'bn-moving-variance',
    });
  }
  return statistics;
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Initial value of one parameter, as torchvision initialises it: convolutions He-normal with
 * fan-out (`kaiming_normal_(mode='fan_out', nonlinearity='relu')`), BN γ = 1 and β = 0, the
 * dense layer as `nn.Linear` (kernel and bias uniform in ±1/√fan_in). Seeded per parameter name.
 * With `zeroInitResidual`, the γ that ends a residual path starts at 0.
 */
export function initialParameterValue(parameter: ParameterSpec, seed: number, zeroInitResidual = false): Float32Array {
  const values = new Float32Array(sizeOf(parameter.shape));
  switch (parameter.role) {
    case 'conv-kernel':
      return fillNormal(values, Math.sqrt(2 / parameter.fanOut), createRandom(seed, parameter.name));
    case 'bn-gamma':
      return zeroInitResidual && parameter.endsResidualPath === true ? values : values.fill(1);
    case 'bn-beta':
      return values;
    case 'dense-kernel':
    case 'dense-bias':
      return fillUniform(values, 1 / Math.sqrt(parameter.fanIn), createRandom(seed, parameter.name));
  }
}

/** Initial running statistics: mean 0, variance 1 (PyTorch's `reset_running_stats`). */
export function initialStatisticValue(statistic: StatisticSpec): Float32Array {
  const values = new Float32Array(statistic.shape[0]);
  return statistic.role === 'bn-moving-variance' ? values.fill(1) : values;
}

export interface NamedVariable<S extends ParameterSpec | StatisticSpec> {
  readonly spec: S;
  readonly variable: tf.Variable;
}

export type ForwardMode = 'train' | 'eval';

/** The tensor a forward pass reads a trainable parameter as, by its flat-layout name. */
export type ParameterReader = (name: string) => tf.Tensor;

export interface ForwardResult {
  readonly logits: tf.Tensor2D;
  /**
   * Training mode only: each batch-norm layer's batch moments, by layer name. They are kept
   * past any enclosing `tf.tidy`: the caller disposes them.
   */
  readonly moments: ReadonlyMap<string, BatchMoments>;
}

/**
 * A built ResNet: its tfjs variables and a forward pass. Tensors returned by `forward` belong
 * to the caller's `tf.tidy`.
 */
export class ResNet {
  readonly spec: ResNetSpec;
  readonly architecture: ResNetArchitecture;
  /** Trainable variables in model order (the order of the flat gradient). */
  readonly parameters: readonly NamedVariable<ParameterSpec>[];
  /** Running statistics in model order. */
  readonly statistics: readonly NamedVariable<StatisticSpec>[];
  private readonly byName = new Map<string, tf.Variable>();
  private disposed = false;

  constructor(architecture: ResNetArchitecture) {
    this.architecture = architecture;
    this.spec = architecture.spec;
    // Variables are left unnamed: tfjs registers names globally, and several models
    // (two replicas in one test process, say) must be able to coexist.
    this.parameters = listParameters(architecture).map((spec) => ({
      spec,
      variable: createVariable(initialParameterValue(spec, this.spec.seed, this.spec.zeroInitResidual), spec.shape, true),
    }));
    this.statistics = listStatistics(architecture).map((spec) => ({
      spec,
      variable: createVariable(initialStatisticValue(spec), spec.shape, false),
    }));
    for (const { spec, variable } of [...this.parameters, ...this.statistics]) this.byName.set(spec.name, variable);
  }

  /** The trainable variables, in model order, as `tf.variableGrads` wants them. */
  get trainableVariables(): tf.Variable[] {
    return this.parameters.map((p) => p.variable);
  }

  /** Number of trainable scalars (torchvision's `sum(p.numel() for p in model.parameters())`). */
  countTrainableParameters(): number {
    return this.parameters.reduce((total, p) => total + p.variable.size, 0);
  }

  /** A parameter or running statistic by its flat-layout name, e.g. `layer1.0.bn1/gamma`. */
  variable(name: string): tf.Variable {
    const variable = this.byName.get(name);
    if (variable === undefined) {
      throw new UnknownVariableError(`ResNet-${this.spec.depth} has no variable '${name}' (names look like 'layer1.0.conv1/kernel')`);
    }
    return variable;
  }

  /**
   * Logits for a batch of NHWC images. In `train` mode batch norm normalises with the batch
   * moments and reports them (the caller turns them into running statistics); in `eval` mode it
   * uses the running statistics. Nothing is written to any variable here. `parameter` gives the
   * tensor each trainable parameter is read as (by flat-layout name); a caller may hand out a
   * stand-in that follows the parameter's gradient (see `segmented-backward.ts`).
   */
  forward(x: tf.Tensor4D, mode: ForwardMode, parameter: ParameterReader = (name) => this.variable(name)): ForwardResult {
    this.assertUsable();
    this.checkInputShape(x.shape);
    const moments = new Map<string, BatchMoments>();
    const unit = (input: tf.Tensor4D, spec: ConvBnSpec): tf.Tensor4D => {
      const kernel = parameter(`${spec.conv.name}/kernel`) as tf.Tensor4D;
      const conv = tf.conv2d(input, kernel, spec.conv.stride, 'same');
      const gamma = parameter(`${spec.bn.name}/gamma`) as tf.Tensor1D;
      const beta = parameter(`${spec.bn.name}/beta`) as tf.Tensor1D;
      if (mode === 'train') {
        const { y, moments: batchMoments } = batchNormTrain(conv, gamma, beta, BATCH_NORM_EPSILON, spec.relu);
        moments.set(spec.bn.name, batchMoments);
        return y;
      }
      const mean = this.variable(`${spec.bn.name}/moving_mean`) as tf.Tensor1D;
      const variance = this.variable(`${spec.bn.name}/moving_variance`) as tf.Tensor1D;
      return batchNormInference(conv, mean, variance, gamma, beta, BATCH_NORM_EPSILON, spec.relu);
    };

    // In eval mode nothing needs the activations of earlier blocks, so each block runs in a tidy
    // of its own and the previous activation is freed as soon as the next exists. (In train mode
    // the gradient tape holds what it needs, and the caller's tidy frees the rest.)
    const stage = (input: tf.Tensor4D, run: () => tf.Tensor4D): tf.Tensor4D => {
      if (mode === 'train') return run();
      const output = tf.tidy(run);
      if (input !== x) input.dispose();
      return output;
    };
    let h = stage(x, () => {
      const stem = unit(x, this.architecture.stem);
      return this.architecture.stemMaxPool ? tf.maxPool(stem, 3, 2, 'same') : stem;
    });
    for (const block of this.architecture.blocks) {
      const input = h;
      h = stage(input, () => {
        let path = input;
        for (const spec of block.path) path = unit(path, spec);
        const identity = block.shortcut === null ? input : unit(input, block.shortcut);
        return tf.relu(tf.add<tf.Tensor4D>(path, identity));
      });
    }
    const features = tf.mean(h, [1, 2]) as tf.Tensor2D;
    const logits = tf.fused.matMul({
      a: features,
      b: parameter(`${this.architecture.head.name}/kernel`) as tf.Tensor2D,
      bias: parameter(`${this.architecture.head.name}/bias`),
    }) as tf.Tensor2D;
    return { logits, moments };
  }

  private checkInputShape(shape: readonly number[]): void {
    const { imageSize, channels } = this.spec;
    const [, height, width, depth] = shape;
    if (shape.length !== 4 || height !== imageSize || width !== imageSize || depth !== channels) {
      throw new InvalidBatchError(
        `input of shape [${shape.join(', ')}] does not fit the model, which expects [n, ${imageSize}, ${imageSize}, ${channels}]`,
      );
    }
  }

  private assertUsable(): void {
    if (this.disposed) throw new DisposedError('this ResNet was disposed');
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const variable of this.byName.values()) variable.dispose();
    this.byName.clear();
  }
}

function createVariable(values: Float32Array, shape: readonly number[], trainable: boolean): tf.Variable {
  const initial = tf.tensor(values, [...shape], 'float32');
  const variable = tf.variable(initial, trainable);
  initial.dispose(); // the variable holds its own reference to the data
  return variable;
}

/** Builds a ResNet with deterministic, seeded initial weights on the current tfjs backend. */
export function buildResNet(spec: ResNetSpecInput): ResNet {
  return new ResNet(describeResNet(spec));
}

/**
 * The data-parallel training step, cut where tfjs cuts `Optimizer.minimize`:
 *
 *   computeGradients(x, labels)  forward (batch statistics) + backward on this replica's batch;
 *                                returns the flat vector of `flat-layout.ts`
 *   … all-reduce averages the flat vectors of all replicas …
 *   applyGradients(averaged)     SGD on the gradient section, running statistics from the
 *                                statistics section
 *
 * `computeGradients` writes nothing: weights and running statistics change only in
 * `applyGradients`, so replicas that apply the same averaged vector stay identical. Every
 * tensor a step creates is released before it returns (`tf.memory().numTensors` stays flat).
 *
 * The trainer keeps the authoritative copy of all values in one `Float32Array` in flat-layout
 * order and writes the tfjs variables from it; it owns the model and its variables. On the cpu
 * backend family (cpu, native) the variables read their slices of that array in place
 * (`bindVariable`), so an update writes nothing else; elsewhere each update copies them in. On
 * those backends a variable's `dataSync()` is therefore the trainer's live array: copy what you
 * keep (`getValues()` and `toLayersModel` do).
 *
 * With `emaDecay` above 0 the trainer also keeps a moving average of those values
 * (`weight-average.ts`), updated after every `applyGradients`; `evaluate`, `predict` and
 * `exportLayersModel` then run on the average (the variables read it for the call and go back to
 * the live values after), while training steps always use the live values.
 */
import * as tf from '@tensorflow/tfjs-core';

import './register-gradients.ts';

import { decodeTrainingState, encodeTrainingState } from './checkpoint-state.ts';
import { DisposedError, FlatLengthMismatchError, InvalidBatchError, InvalidOptionsError } from './errors.ts';
import { flatLayoutFor, sectionEntries } from './flat-layout.ts';
import type { FlatEntry, FlatLayout } from './flat-layout.ts';
import { exportLayersModel } from './layers-export.ts';
import type { LearningRateSchedule } from './lr-schedule.ts';
import { BATCH_NORM_MOMENTUM } from './resnet-table.ts';
import { mirrorImages } from './mirror-images.ts';
import type { ResNet } from './resnet.ts';
import { SegmentedGradientWriter } from './segmented-backward.ts';
import type { SegmentReadyListener } from './segmented-backward.ts';
import { Sgd } from './sgd.ts';
import { bindVariable, isBoundTo, readTensorInto } from './tensor-io.ts';
import type { SgdOptions } from './sgd.ts';
import { resolveWeightAverageOptions, updateWeightAverage, weightAverageDecay } from './weight-average.ts';
import type { WeightAverageOptions } from './weight-average.ts';

export interface TrainerOptions {
  /** Learning rate for `applyGradients`: a constant or a schedule of the step. @default 0.1 */
  readonly learningRate?: number | LearningRateSchedule;
  /** SGD hyper-parameters; see `SgdOptions` for each default. */
  readonly sgd?: Partial<SgdOptions>;
  /**
   * Label smoothing ε of the training loss, in [0, 1): the target is 1 − ε + ε/classes on the
   * label and ε/classes elsewhere (PyTorch's `CrossEntropyLoss(label_smoothing=ε)`). Evaluation
   * reports the plain cross-entropy.
   * @default 0
   */
  readonly labelSmoothing?: number;
  /**
   * Evaluate on every image and its left-right mirror, averaging the two softmax outputs
   * (flip test-time augmentation). Fashion-MNIST's classes are symmetric under that flip.
   * @default false
   */
  readonly testTimeFlip?: boolean;
  /**
   * Decay D of the exponential moving average of the weights and running statistics that
   * evaluation uses, in [0, 1]; 0 keeps no average and evaluates the live weights.
   * @default 0
   */
  readonly emaDecay?: number;
  /** Ramp the average's decay up as min(D, (1 + step)/(10 + step)); needs `emaDecay` above 0. @default false */
  readonly emaWarmup?: boolean;
}

export interface GradientResult {
  /** Mean softmax cross-entropy over the batch. */
  readonly loss: number;
  /** Examples whose arg-max logit equals the label. */
  readonly correct: number;
  /** Examples in the batch. */
  readonly count: number;
  /** Gradient section then statistics section, `layout.totalLength` values. */
  readonly flat: Float32Array;
}

export interface ComputeGradientsOptions {
  /** Array of `layout.totalLength` values to write the flat vector into. @default a new array */
  readonly into?: Float32Array;
  /**
   * Called as each segment of the flat vector becomes final during the step (statistics, head,
   * stage 4 … 1, stem; see `segmented-backward.ts`); the range is the listener's from then on.
   * The flat vector is bit-identical to the one computed without it.
   * @default none: the vector is written once the backward pass is over
   */
  readonly onSegmentReady?: SegmentReadyListener;
}

export interface EvaluationResult {
  readonly loss: number;
  readonly correct: number;
  readonly count: number;
}

export type ImageBatch = Float32Array | tf.Tensor4D;
export type LabelBatch = Uint8Array | Int32Array;

export class Trainer {
  readonly model: ResNet;
  readonly layout: FlatLayout;
  readonly optimizer: Sgd;
  private readonly learningRate: LearningRateSchedule;
  private readonly labelSmoothing: number;
  private readonly testTimeFlip: boolean;
  private readonly weightAverageOptions: WeightAverageOptions;
  private readonly values: Float32Array;
  /** The weight average in the layout of `values`, null when `emaDecay` is 0. */
  private readonly average: Float32Array | null;
  /** Each variable's slice of `average`, in the order of `allVariables()`. */
  private readonly averageSlices: readonly Float32Array[];
  /** Each variable's slice of `values`, in the order of `allVariables()`. */
  private readonly slices: readonly Float32Array[];
  private readonly parameterEntries: readonly FlatEntry[];
  private readonly statisticEntries: readonly FlatEntry[];
  private stepCount = 0;
  private disposed = false;

  constructor(model: ResNet, options: TrainerOptions = {}) {
    this.model = model;
    this.layout = flatLayoutFor(model.architecture);
    this.optimizer = new Sgd(this.layout, options.sgd);
    const learningRate = options.learningRate ?? 0.1;
    if (typeof learningRate === 'number') {
      if (!Number.isFinite(learningRate) || learningRate < 0) {
        throw new InvalidOptionsError(`learningRate must be a non-negative number, got ${learningRate}`);
      }
      this.learningRate = () => learningRate;
    } else {
      this.learningRate = learningRate;
    }
    this.labelSmoothing = options.labelSmoothing ?? 0;
    if (!Number.isFinite(this.labelSmoothing) || this.labelSmoothing < 0 || this.labelSmoothing >= 1) {
      throw new InvalidOptionsError(`labelSmoothing must be in [0, 1), got ${String(options.labelSmoothing)}`);
    }
    this.testTimeFlip = options.testTimeFlip ?? false;
    this.weightAverageOptions = resolveWeightAverageOptions({
      ...(options.emaDecay === undefined ? {} : { decay: options.emaDecay }),
      ...(options.emaWarmup === undefined ? {} : { warmup: options.emaWarmup }),
    });
    this.parameterEntries = sectionEntries(this.layout, 'gradient');
    this.statisticEntries = sectionEntries(this.layout, 'statistics');
    this.values = new Float32Array(this.layout.totalLength);
    this.slices = this.layout.entries.map((entry) => this.values.subarray(entry.offset, entry.offset + entry.size));
    this.allVariables().forEach((variable, i) => {
      readTensorInto(variable, this.values, (this.layout.entries[i] as FlatEntry).offset);
    });
    // The average starts at the initial model, as timm's does.
    this.average = this.weightAverageOptions.decay === 0 ? null : this.values.slice();
    const average = this.average;
    this.averageSlices = average === null ? [] : this.layout.entries.map((entry) => average.subarray(entry.offset, entry.offset + entry.size));
    this.writeVariables();
  }

  /** Optimizer steps applied so far. */
  get step(): number {
    return this.stepCount;
  }

  /**
   * Forward and backward pass on one batch; changes no weight and no running statistic.
   * The flat vector is written into `options.into` when given (reusing one buffer across steps
   * saves allocating ~4 bytes per parameter each step), else into a new array.
   */
  computeGradients(x: ImageBatch, labels: LabelBatch, options: ComputeGradientsOptions = {}): GradientResult {
    this.assertUsable();
    const count = this.checkBatch(x, labels);
    const flat = options.into ?? new Float32Array(this.layout.totalLength);
    if (flat.length !== this.layout.totalLength) {
      throw new FlatLengthMismatchError(
        `the output array has ${flat.length} values, the flat layout has ${this.layout.totalLength}`,
      );
    }
    const { featureMapSize } = this.model.architecture;
    if (count * featureMapSize * featureMapSize < 2) {
      throw new InvalidBatchError(
        `training needs more than one value per batch-norm channel; a batch of ${count} gives ` +
          `${count * featureMapSize * featureMapSize} at the last ${featureMapSize}×${featureMapSize} feature map`,
      );
    }
    const kept: tf.Tensor[] = [];
    const ownsInput = !(x instanceof tf.Tensor);
    const input = this.toTensor(x, count);
    const labelTensor = tf.tensor1d(Int32Array.from(labels), 'int32');
    const segmented = options.onSegmentReady === undefined ? null : new SegmentedGradientWriter(this.layout, flat, options.onSegmentReady);
    try {
      let correctTensor: tf.Tensor | undefined;
      const momentsByLayer = new Map<string, { mean: tf.Tensor; variance: tf.Tensor; count: number }>();
      const { value, grads } = tf.variableGrads(() => {
        const { logits, moments } = this.model.forward(input, 'train', segmented === null ? undefined : (name) => segmented.read(name, this.model.variable(name)));
        correctTensor = tf.keep(countCorrect(logits, labelTensor));
        kept.push(correctTensor);
        for (const [layer, m] of moments) {
          kept.push(tf.keep(m.mean), tf.keep(m.variance));
          momentsByLayer.set(layer, m);
        }
        // The statistics are known once the forward pass is: segmented, they go first.
        if (segmented !== null) {
          this.writeRunningStatistics(flat, momentsByLayer);
          segmented.statisticsWritten();
        }
        return crossEntropy(logits, labelTensor, this.model.spec.classes, this.labelSmoothing);
      }, this.model.trainableVariables);
      kept.push(value, ...Object.values(grads));

      if (segmented === null) {
        this.model.parameters.forEach(({ variable }, i) => {
          const entry = this.parameterEntries[i] as FlatEntry;
          const gradient = grads[variable.name];
          if (gradient === undefined) throw new Error(`no gradient for ${entry.name}`);
          readTensorInto(gradient, flat, entry.offset);
        });
        this.writeRunningStatistics(flat, momentsByLayer);
      } else {
        segmented.finish();
      }
      const loss = value.dataSync()[0] as number;
      const correct = (correctTensor as tf.Tensor).dataSync()[0] as number;
      return { loss, correct, count, flat };
    } finally {
      for (const tensor of kept) tensor.dispose();
      labelTensor.dispose();
      if (ownsInput) input.dispose();
    }
  }

  /**
   * Applies an averaged flat vector: an SGD step on the gradient section at the learning rate of
   * the current step (or `learningRate` when given), then the statistics section becomes the
   * running statistics.
   */
  applyGradients(averagedFlat: Float32Array, learningRate: number = this.learningRate(this.stepCount)): void {
    this.assertUsable();
    if (averagedFlat.length !== this.layout.totalLength) {
      throw new FlatLengthMismatchError(
        `averaged flat vector has ${averagedFlat.length} values, the flat layout has ${this.layout.totalLength}`,
      );
    }
    const { gradientLength } = this.layout;
    this.optimizer.step(this.values.subarray(0, gradientLength), averagedFlat.subarray(0, gradientLength), learningRate);
    this.values.set(averagedFlat.subarray(gradientLength), gradientLength);
    if (this.average !== null) {
      updateWeightAverage(this.average, this.values, weightAverageDecay(this.weightAverageOptions, this.stepCount));
    }
    this.stepCount++;
    this.writeVariables();
  }

  /**
   * Loss and accuracy with batch norm in inference mode (running statistics); with
   * `testTimeFlip`, of the mean softmax over each image and its mirror; with `emaDecay`, of the
   * weight average.
   */
  evaluate(x: ImageBatch, labels: LabelBatch): EvaluationResult {
    this.assertUsable();
    const count = this.checkBatch(x, labels);
    const [loss, correct] = this.withEvaluationWeights(() => tf.tidy(() => {
      const input = this.toTensor(x, count);
      const labelTensor = tf.tensor1d(Int32Array.from(labels), 'int32');
      const { logits } = this.model.forward(input, 'eval');
      if (!this.testTimeFlip) {
        return [crossEntropy(logits, labelTensor, this.model.spec.classes), countCorrect(logits, labelTensor)];
      }
      // The mirror goes through the same network; log of the mean probability is a logit vector
      // whose softmax is that mean, so loss and arg-max read it like any other logits.
      const { imageSize, channels } = this.model.spec;
      const pixels = x instanceof tf.Tensor ? (x.dataSync() as Float32Array) : x;
      const mirror = this.toTensor(mirrorImages(pixels, count, imageSize, channels), count);
      const mirrored = this.model.forward(mirror, 'eval').logits;
      const meanLogProbability = tf.sub(tf.logSumExp(tf.stack([tf.logSoftmax(logits), tf.logSoftmax(mirrored)]), 0), Math.log(2)) as tf.Tensor2D;
      return [crossEntropy(meanLogProbability, labelTensor, this.model.spec.classes), countCorrect(meanLogProbability, labelTensor)];
    }));
    try {
      return { loss: loss.dataSync()[0] as number, correct: correct.dataSync()[0] as number, count };
    } finally {
      loss.dispose();
      correct.dispose();
    }
  }

  /** Logits (inference mode, of the weight average when there is one), row-major `count × classes`. */
  predict(x: ImageBatch): Float32Array {
    this.assertUsable();
    const count = this.countImages(x);
    const logits = this.withEvaluationWeights(() => tf.tidy(() => this.model.forward(this.toTensor(x, count), 'eval').logits));
    try {
      return Float32Array.from(logits.dataSync() as Float32Array);
    } finally {
      logits.dispose();
    }
  }

  /** Weights, running statistics, momentum buffer, weight average and step as bytes (see `checkpoint-state.ts`). */
  getState(): Uint8Array {
    this.assertUsable();
    return encodeTrainingState(this.layout, {
      step: this.stepCount,
      values: this.values,
      momentumBuffer: this.optimizer.getState().momentumBuffer,
      weightAverage: this.average,
    });
  }

  /**
   * Restores what `getState` wrote; the bytes must come from a model with the same flat layout.
   * A state without a weight average (the coordinator's initial state, or a run that kept none)
   * starts this trainer's average at the restored values, as a fresh trainer starts it at its
   * initial ones; a state's average is dropped by a trainer that keeps none.
   */
  setState(bytes: Uint8Array): void {
    this.assertUsable();
    const state = decodeTrainingState(this.layout, bytes);
    this.optimizer.setState({ momentumBuffer: state.momentumBuffer });
    this.values.set(state.values);
    this.average?.set(state.weightAverage ?? state.values);
    this.stepCount = state.step;
    this.writeVariables();
  }

  /** A copy of all values in flat-layout order (parameters, then running statistics). */
  getValues(): Float32Array {
    return this.values.slice();
  }

  /** A copy of the weight average in the layout of `getValues()`, or null when `emaDecay` is 0. */
  getWeightAverage(): Float32Array | null {
    return this.average === null ? null : this.average.slice();
  }

  /** Writes `model.json` and `weights.bin` in the TF.js Layers format into `dir` (the weight average when there is one). */
  async exportLayersModel(dir: string): Promise<void> {
    this.assertUsable();
    const restore = this.bindEvaluationWeights();
    try {
      await exportLayersModel(this.model, dir);
    } finally {
      restore();
    }
  }

  /** Disposes the model's variables. */
  dispose(): void {
    this.disposed = true;
    this.model.dispose();
  }

  private writeRunningStatistics(
    flat: Float32Array,
    moments: ReadonlyMap<string, { mean: tf.Tensor; variance: tf.Tensor; count: number }>,
  ): void {
    const m = BATCH_NORM_MOMENTUM;
    for (const entry of this.statisticEntries) {
      const layer = entry.name.slice(0, entry.name.lastIndexOf('/'));
      const batch = moments.get(layer);
      if (batch === undefined) throw new Error(`no batch moments for ${layer}`);
      const isMean = entry.role === 'bn-moving-mean';
      const observed = (isMean ? batch.mean : batch.variance).dataSync() as Float32Array;
      // PyTorch keeps the unbiased batch variance in the running statistics.
      const correction = isMean ? 1 : batch.count / (batch.count - 1);
      for (let i = 0; i < entry.size; i++) {
        const old = this.values[entry.offset + i] as number;
        flat[entry.offset + i] = (1 - m) * old + m * correction * (observed[i] as number);
      }
    }
  }

  /** Runs `run` with the variables on the weight average when there is one, and back on the live values after. */
  private withEvaluationWeights<T>(run: () => T): T {
    const restore = this.bindEvaluationWeights();
    try {
      return run();
    } finally {
      restore();
    }
  }

  /** Points the variables at the weight average (if any); returns what puts them back on the live values. */
  private bindEvaluationWeights(): () => void {
    if (this.average === null) return () => {};
    this.allVariables().forEach((variable, i) => bindVariable(variable, this.averageSlices[i] as Float32Array));
    return () => this.writeVariables();
  }

  /** Brings the variables up to `values`: nothing to do for those that still read it in place. */
  private writeVariables(): void {
    this.allVariables().forEach((variable, i) => {
      const slice = this.slices[i] as Float32Array;
      if (!isBoundTo(variable, slice)) bindVariable(variable, slice);
    });
  }

  /** Parameters then running statistics, in flat-layout order. */
  private allVariables(): tf.Variable[] {
    return [...this.model.parameters, ...this.model.statistics].map(({ variable }) => variable);
  }

  private countImages(x: ImageBatch): number {
    const { imageSize, channels } = this.model.spec;
    const perImage = imageSize * imageSize * channels;
    if (x instanceof tf.Tensor) return x.shape[0];
    if (!(x instanceof Float32Array) || x.length % perImage !== 0) {
      throw new InvalidBatchError(
        `images must be a Float32Array of n·${imageSize}·${imageSize}·${channels} values (NHWC), got ${describe(x)}`,
      );
    }
    return x.length / perImage;
  }

  private checkBatch(x: ImageBatch, labels: LabelBatch): number {
    const count = this.countImages(x);
    if (!(labels instanceof Uint8Array || labels instanceof Int32Array)) {
      throw new InvalidBatchError(`labels must be a Uint8Array or Int32Array, got ${describe(labels)}`);
    }
    if (labels.length !== count) {
      throw new InvalidBatchError(`batch has ${count} images but ${labels.length} labels`);
    }
    if (count === 0) throw new InvalidBatchError('batch is empty');
    const { classes } = this.model.spec;
    const bad = labels.findIndex((label) => label < 0 || label >= classes);
    if (bad !== -1) {
      throw new InvalidBatchError(`label ${labels[bad]} at index ${bad} is outside [0, ${classes})`);
    }
    return count;
  }

  private toTensor(x: ImageBatch, count: number): tf.Tensor4D {
    if (x instanceof tf.Tensor) return x;
    const { imageSize, channels } = this.model.spec;
    return tf.tensor4d(x, [count, imageSize, imageSize, channels], 'float32');
  }

  private assertUsable(): void {
    if (this.disposed || this.model.isDisposed) throw new DisposedError('this Trainer (or its model) was disposed');
  }
}

function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, classes: number, labelSmoothing = 0): tf.Scalar {
  const oneHot = tf.oneHot(labels, classes);
  return tf.losses.softmaxCrossEntropy(oneHot, logits, undefined, labelSmoothing, tf.Reduction.MEAN) as tf.Scalar;
}

function countCorrect(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'int32'));
}

function describe(value: unknown): string {
  if (value === null || typeof value !== 'object') return String(value);
  const length = (value as { length?: unknown }).length;
  return `${value.constructor.name}${typeof length === 'number' ? ` of length ${length}` : ''}`;
}

/**
 * The model in the TF.js Layers format (`model.json` + `weights.bin`), readable by
 * `tf.loadLayersModel`. The same architecture description that `ResNet.forward` interprets is
 * rebuilt here with the tfjs-layers functional API, its weights are set by name from the
 * ResNet's variables, and tfjs-layers serialises it; only the file I/O is ours.
 *
 * The exported model outputs logits (no softmax), in inference mode batch norm uses the running
 * statistics, exactly as `ResNet.forward(x, 'eval')`.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import { BATCH_NORM_EPSILON, BATCH_NORM_MOMENTUM } from './resnet-table.ts';
import type { ConvBnSpec, ResNet, ResNetArchitecture } from './resnet.ts';

export const MODEL_JSON_FILE = 'model.json';
export const WEIGHTS_FILE = 'weights.bin';

/** The architecture as a tfjs-layers functional model (fresh weights; see `exportLayersModel`). */
export function buildLayersModel(architecture: ResNetArchitecture): tfl.LayersModel {
  const { spec } = architecture;
  const input = tfl.input({ shape: [spec.imageSize, spec.imageSize, spec.channels], name: 'input' });
  const unit = (x: tfl.SymbolicTensor, { conv, bn, relu }: ConvBnSpec): tfl.SymbolicTensor => {
    const convolved = tfl.layers
      .conv2d({
        name: conv.name,
        filters: conv.filters,
        kernelSize: conv.kernelSize,
        strides: conv.stride,
        padding: 'same',
        useBias: false,
        kernelInitializer: tfl.initializers.varianceScaling({ scale: 2, mode: 'fanOut', distribution: 'normal' }),
      })
      .apply(x) as tfl.SymbolicTensor;
    const normalized = tfl.layers
      .batchNormalization({
        name: bn.name,
        axis: -1,
        // Keras keeps 1 − (PyTorch's momentum) of the old running value.
        momentum: 1 - BATCH_NORM_MOMENTUM,
        epsilon: BATCH_NORM_EPSILON,
      })
      .apply(convolved) as tfl.SymbolicTensor;
    return relu ? relu_(`${bn.name}.relu`, normalized) : normalized;
  };

  let h = unit(input, architecture.stem);
  if (architecture.stemMaxPool) {
    h = tfl.layers.maxPooling2d({ name: 'maxpool', poolSize: 3, strides: 2, padding: 'same' }).apply(h) as tfl.SymbolicTensor;
  }
  for (const block of architecture.blocks) {
    let path = h;
    for (const spec of block.path) path = unit(path, spec);
    const identity = block.shortcut === null ? h : unit(h, block.shortcut);
    const sum = tfl.layers.add({ name: `${block.name}.add` }).apply([path, identity]) as tfl.SymbolicTensor;
    h = relu_(`${block.name}.relu`, sum);
  }
  const pooled = tfl.layers.globalAveragePooling2d({ name: 'avgpool' }).apply(h) as tfl.SymbolicTensor;
  const logits = tfl.layers
    .dense({
      name: architecture.head.name,
      units: architecture.head.units,
      kernelInitializer: tfl.initializers.varianceScaling({ scale: 1 / 3, mode: 'fanIn', distribution: 'uniform' }),
    })
    .apply(pooled) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: logits, name: `resnet${spec.depth}` });
}

function relu_(name: string, x: tfl.SymbolicTensor): tfl.SymbolicTensor {
  return tfl.layers.activation({ name, activation: 'relu' }).apply(x) as tfl.SymbolicTensor;
}

/**
 * A tfjs-layers model holding a copy of the ResNet's current weights. The caller disposes it.
 * The values are copied: on the cpu backend family a trainer's variables read its live array in
 * place, and `setWeights` would otherwise share it.
 */
export function toLayersModel(model: ResNet): tfl.LayersModel {
  const layersModel = buildLayersModel(model.architecture);
  const copies = layersModel.weights.map((weight) => {
    const variable = model.variable(weight.originalName);
    return tf.tensor(Float32Array.from(variable.dataSync() as Float32Array), variable.shape, 'float32');
  });
  try {
    layersModel.setWeights(copies);
  } finally {
    tf.dispose(copies);
  }
  return layersModel;
}

/** Writes `model.json` and `weights.bin` into `dir` (created if missing). */
export async function exportLayersModel(model: ResNet, dir: string): Promise<void> {
  const layersModel = toLayersModel(model);
  try {
    await layersModel.save(fileSystemIOHandler(dir));
  } finally {
    layersModel.dispose();
  }
}

/**
 * An IOHandler over a directory holding `model.json` and the weight files its manifest names:
 * `model.save(fileSystemIOHandler(dir))` and `tf.loadLayersModel(fileSystemIOHandler(dir))`.
 */
export function fileSystemIOHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new Error('fileSystemIOHandler saves Layers models only (JSON topology)');
      }
      await mkdir(dir, { recursive: true });
      const weightData = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tfl.version_layers}`,
        convertedBy: null,
        weightsManifest: [{ paths: [`./${WEIGHTS_FILE}`], weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.trainingConfig !== undefined) modelJson.trainingConfig = artifacts.trainingConfig;
      const jsonText = JSON.stringify(modelJson);
      await writeFile(join(dir, MODEL_JSON_FILE), jsonText);
      await writeFile(join(dir, WEIGHTS_FILE), new Uint8Array(weightData));
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          modelTopologyBytes: Buffer.byteLength(JSON.stringify(artifacts.modelTopology)),
          weightSpecsBytes: Buffer.byteLength(JSON.stringify(artifacts.weightSpecs ?? [])),
          weightDataBytes: weightData.byteLength,
        },
      };
    },

    async load(): Promise<tf.io.ModelArtifacts> {
      const modelJson = JSON.parse(await readFile(join(dir, MODEL_JSON_FILE), 'utf8')) as tf.io.ModelJSON;
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          for (const path of group.paths) {
            const bytes = await readFile(join(dir, path));
            buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
          }
        }
        return [tf.io.getWeightSpecs(manifest), tf.io.CompositeArrayBuffer.join(buffers)];
      });
    },
  };
}

/**
 * The convolutions and poolings every native kernel is checked on: 1×1, 2×2, 3×3, 5×5 and 7×7
 * windows; strides 1, 2 and 3; 'same', 'valid', a number with each rounding mode and explicit
 * asymmetric paddings; dilation 2; odd and tiny images (1×1 and 2×2, where the native kernel crops
 * filter taps that only see padding); batch 1 and more; 1 and odd channel counts.
 */
import * as tf from '@tensorflow/tfjs-core';

export type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
export type DimRoundingMode = 'floor' | 'round' | 'ceil' | undefined;

export interface ConvCase {
  readonly name: string;
  readonly batch: number;
  readonly height: number;
  readonly width: number;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel: number;
  readonly stride: number;
  readonly dilation: number;
  readonly pad: Pad;
  readonly dimRoundingMode?: DimRoundingMode;
}

function describePad(pad: Pad): string {
  return typeof pad === 'string' ? pad : typeof pad === 'number' ? `pad ${pad}` : `pad ${JSON.stringify(pad.slice(1, 3))}`;
}

function caseName(c: Omit<ConvCase, 'name'>): string {
  const rounding = c.dimRoundingMode === undefined ? '' : ` ${c.dimRoundingMode}`;
  const dilation = c.dilation === 1 ? '' : ` dilation ${c.dilation}`;
  return `${c.kernel}×${c.kernel}/${c.stride}${dilation} ${describePad(c.pad)}${rounding}, x ${c.batch}×${c.height}×${c.width}×${c.inChannels}, ${c.outChannels} filters`;
}

/** tfjs's own description of the case's convolution; throws when tfjs rejects the geometry. */
export function convInfo(c: Omit<ConvCase, 'name'>): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    [c.batch, c.height, c.width, c.inChannels],
    [c.kernel, c.kernel, c.inChannels, c.outChannels],
    c.stride,
    c.dilation,
    c.pad,
    c.dimRoundingMode,
  );
}

/** The output shape, or null when tfjs rejects the geometry or it has no output. */
export function convOutputShape(c: Omit<ConvCase, 'name'>): number[] | null {
  try {
    const info = convInfo(c);
    return info.outShape.every((d) => Number.isInteger(d) && d > 0) ? info.outShape : null;
  } catch {
    return null;
  }
}

const IMAGES: Array<[number, number, number, number, number]> = [
  // batch, height, width, inChannels, outChannels
  [1, 5, 7, 1, 3],
  [3, 9, 9, 3, 5],
  [2, 1, 1, 5, 2],
  [2, 2, 3, 4, 1],
  [2, 13, 11, 2, 7],
];

const PADS: Array<[Pad, DimRoundingMode]> = [
  ['same', undefined],
  ['valid', undefined],
  [1, 'floor'],
  [1, 'ceil'],
  [2, 'round'],
  [
    [
      [0, 0],
      [2, 1],
      [0, 3],
      [0, 0],
    ],
    undefined,
  ],
];

/**
 * Convolution cases; `withDilation` adds dilation-2 cases (tfjs computes no gradient for those).
 * `every` thins the full cross product to keep suites fast (every n-th case, ResNet's own
 * shapes always kept).
 */
export function convCases(options: { withDilation?: boolean; every?: number } = {}): ConvCase[] {
  const cases: ConvCase[] = [];
  const every = options.every ?? 1;
  let index = 0;
  for (const kernel of [1, 2, 3, 5, 7]) {
    for (const stride of [1, 2, 3]) {
      for (const [pad, dimRoundingMode] of PADS) {
        for (const [batch, height, width, inChannels, outChannels] of IMAGES) {
          const c = { batch, height, width, inChannels, outChannels, kernel, stride, dilation: 1, pad, dimRoundingMode };
          if (convOutputShape(c) === null) continue;
          if (index++ % every !== 0) continue;
          cases.push({ ...c, name: caseName(c) });
        }
      }
    }
  }
  if (options.withDilation === true) {
    for (const [pad, dimRoundingMode] of PADS) {
      for (const kernel of [2, 3]) {
        // A 9×8 image for the direct convolution, a 2×2 one for the dense product.
        for (const [height, width] of [
          [9, 8],
          [2, 2],
        ] as const) {
          const c = { batch: 2, height, width, inChannels: 3, outChannels: 4, kernel, stride: 1, dilation: 2, pad, dimRoundingMode };
          if (convOutputShape(c) === null) continue;
          cases.push({ ...c, name: caseName(c) });
        }
      }
    }
  }
  // ResNet-18 at 28×28 input: the d2l stem, a last-stage 3×3 on 1×1 maps and the 3×3/2 into it.
  const resnet: Array<Omit<ConvCase, 'name'>> = [
    { batch: 2, height: 28, width: 28, inChannels: 1, outChannels: 8, kernel: 7, stride: 2, dilation: 1, pad: 'same' },
    { batch: 3, height: 1, width: 1, inChannels: 16, outChannels: 16, kernel: 3, stride: 1, dilation: 1, pad: 'same' },
    { batch: 3, height: 2, width: 2, inChannels: 8, outChannels: 16, kernel: 3, stride: 2, dilation: 1, pad: 'same' },
    { batch: 3, height: 4, width: 4, inChannels: 8, outChannels: 16, kernel: 1, stride: 2, dilation: 1, pad: 'same' },
  ];
  for (const c of resnet) cases.push({ ...c, name: `ResNet ${caseName(c)}` });
  return cases;
}

/** The bytes a step all-reduces for a ResNet: its flat layout's length (gradients, then batch-norm statistics) in float32. */
import { describeResNet, flatLayoutFor, type ResNetDepth, type StemKind } from '@ringtrain/model';

export interface ModelShape {
  depth: ResNetDepth;
  stem: StemKind;
  widthMultiplier: number;
  imageSize: number;
}

export function gradientBytesOf(shape: ModelShape): number {
  const layout = flatLayoutFor(describeResNet({ depth: shape.depth, stem: shape.stem, widthMultiplier: shape.widthMultiplier, imageSize: shape.imageSize }));
  return layout.totalLength * Float32Array.BYTES_PER_ELEMENT;
}

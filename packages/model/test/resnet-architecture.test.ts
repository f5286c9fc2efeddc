import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { InvalidResNetSpecError } from '../src/errors.ts';
import { RESNET_TABLE } from '../src/resnet-table.ts';
import { buildResNet, convBnUnits, describeResNet, listParameters } from '../src/resnet.ts';
import type { ResNet } from '../src/resnet.ts';
import { useCpuBackend } from './support/backend.ts';

// torchvision.models.resnetNN(): sum(p.numel() for p in model.parameters()) for 3×224×224, 1000 classes.
const TORCHVISION_PARAMETER_COUNTS = [
  [18, 11_689_512],
  [34, 21_797_672],
  [50, 25_557_032],
  [101, 44_549_160],
  [152, 60_192_808],
] as const;

describe('the ResNet family', () => {
  let built: ResNet | undefined;
  beforeAll(useCpuBackend);
  afterEach(() => built?.dispose());

  it.each(TORCHVISION_PARAMETER_COUNTS)(
    'builds ResNet-%i with exactly torchvision’s %i trainable parameters',
    (depth, expected) => {
      built = buildResNet({ depth, stem: 'd2l', imageSize: 224, channels: 3, classes: 1000 });
      expect(built.countTrainableParameters()).toBe(expected);
    },
  );

  it.each([18, 34, 50, 101, 152] as const)('gives ResNet-%i the number of blocks its table row lists', (depth) => {
    const architecture = describeResNet({ depth });
    const perStage = [1, 2, 3, 4].map((stage) => architecture.blocks.filter((b) => b.name.startsWith(`layer${stage}.`)).length);
    expect(perStage).toEqual([...RESNET_TABLE[depth].stageBlocks]);
  });

  it('puts a projection shortcut exactly where the stride or the width changes', () => {
    for (const depth of [18, 50] as const) {
      const architecture = describeResNet({ depth });
      let channels = architecture.stem.conv.filters;
      for (const block of architecture.blocks) {
        const stride = block.path.reduce((s, unit) => s * unit.conv.stride, 1);
        const changes = stride !== 1 || channels !== block.outChannels;
        expect(block.shortcut !== null, `${depth}: ${block.name}`).toBe(changes);
        if (block.shortcut !== null) {
          expect(block.shortcut.conv.kernelSize).toBe(1);
          expect(block.shortcut.conv.stride).toBe(stride);
        }
        channels = block.outChannels;
      }
    }
    // Basic blocks keep the stem's 64 channels in stage 1; bottlenecks widen them to 256 at once.
    expect(describeResNet({ depth: 18 }).blocks.filter((b) => b.shortcut !== null).map((b) => b.name)).toEqual([
      'layer2.0',
      'layer3.0',
      'layer4.0',
    ]);
    expect(describeResNet({ depth: 50 }).blocks.filter((b) => b.shortcut !== null).map((b) => b.name)).toEqual([
      'layer1.0',
      'layer2.0',
      'layer3.0',
      'layer4.0',
    ]);
  });

  it('strides the 3×3 convolution of a bottleneck, as torchvision v1.5', () => {
    const block = describeResNet({ depth: 101 }).blocks.find((b) => b.name === 'layer3.0');
    expect(block?.path.map((u) => [u.conv.kernelSize, u.conv.stride])).toEqual([
      [1, 1],
      [3, 2],
      [1, 1],
    ]);
    expect(block?.outChannels).toBe(1024);
  });

  it('gives convolutions no bias, as each is followed by batch norm', () => {
    const parameters = listParameters(describeResNet({ depth: 34 }));
    const biases = parameters.filter((p) => p.name.endsWith('/bias')).map((p) => p.name);
    expect(biases).toEqual(['fc/bias']);
    expect(convBnUnits(describeResNet({ depth: 34 })).every((u) => u.bn.channels === u.conv.filters)).toBe(true);
  });

  it.each([
    ['d2l', 28, 1],
    ['small', 28, 4],
    ['d2l', 224, 7],
    ['small', 32, 4],
    ['d2l', 96, 3],
    ['compact', 28, 2],
    ['compact', 96, 6],
  ] as const)('with the %s stem turns %i×%i images into a %i×%i feature map', (stem, size, featureMapSize) => {
    expect(describeResNet({ depth: 18, stem, imageSize: size }).featureMapSize).toBe(featureMapSize);
  });

  it('scales the stem and every stage width with the width multiplier', () => {
    const architecture = describeResNet({ depth: 50, widthMultiplier: 0.25, stem: 'small' });
    expect(architecture.stem.conv.filters).toBe(16);
    expect(architecture.stem.conv.kernelSize).toBe(3);
    expect(architecture.stemMaxPool).toBe(false);
    expect(architecture.head.inFeatures).toBe(512);
    const widths = [1, 2, 3, 4].map((stage) => architecture.blocks.find((b) => b.name === `layer${stage}.0`)?.path[1]?.conv.filters);
    expect(widths).toEqual([16, 32, 64, 128]);
  });

  it.each([
    [{ depth: 20 }, /depth 20 is not in the table/],
    [{ depth: 18, stem: 'tiny' }, /stem 'tiny' is unknown/],
    [{ depth: 18, widthMultiplier: 0 }, /widthMultiplier must be a positive number, got 0/],
    [{ depth: 18, imageSize: 27.5 }, /imageSize must be an integer/],
    [{ depth: 18, channels: 0 }, /channels must be an integer in \[1/],
    [{ depth: 18, classes: -1 }, /classes must be an integer/],
    [{ depth: 18, seed: -3 }, /seed must be an integer in \[0, 4294967295\]/],
  ])('rejects the spec %j with an error naming the field', (spec, message) => {
    expect(() => describeResNet(spec as never)).toThrow(InvalidResNetSpecError);
    expect(() => describeResNet(spec as never)).toThrow(message);
  });
});

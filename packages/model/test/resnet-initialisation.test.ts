import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { beforeAll, describe, expect, it } from 'vitest';

import { buildResNet, describeResNet, initialParameterValue, listParameters } from '../src/resnet.ts';
import type { ResNetSpecInput } from '../src/resnet.ts';
import { useCpuBackend } from './support/backend.ts';
import { weightsDigest } from './support/weights-digest.ts';

const run = promisify(execFile);
const fixture = fileURLToPath(new URL('./fixtures/print-weights-digest.ts', import.meta.url));

function digestOf(spec: ResNetSpecInput): string {
  const model = buildResNet(spec);
  try {
    return weightsDigest(model);
  } finally {
    model.dispose();
  }
}

function moments(values: Float32Array): { mean: number; std: number } {
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / values.length;
  let squares = 0;
  for (const v of values) squares += (v - mean) ** 2;
  return { mean, std: Math.sqrt(squares / values.length) };
}

describe('deterministic initialisation', () => {
  beforeAll(useCpuBackend);
  const spec: ResNetSpecInput = { depth: 18, stem: 'small', widthMultiplier: 0.25, seed: 7 };

  it('builds bit-identical weights in two separate processes from the same spec and seed', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', fixture, JSON.stringify(spec)], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
    });
    expect(stdout.trim()).toBe(digestOf(spec));
  });

  it('builds different weights from different seeds', () => {
    expect(digestOf({ ...spec, seed: 8 })).not.toBe(digestOf(spec));
  });

  it('keeps every convolution’s initial values when only the class count changes', () => {
    const a = listParameters(describeResNet({ ...spec, classes: 10 }));
    const b = listParameters(describeResNet({ ...spec, classes: 7 }));
    const conv = a.find((p) => p.name === 'layer3.1.conv2/kernel');
    const same = b.find((p) => p.name === 'layer3.1.conv2/kernel');
    expect(conv && same).toBeTruthy();
    expect(initialParameterValue(conv!, 7)).toEqual(initialParameterValue(same!, 7));
  });

  it('draws convolution kernels He-normal with fan-out, as torchvision', () => {
    const parameters = listParameters(describeResNet({ depth: 18 }));
    const kernel = parameters.find((p) => p.name === 'layer4.1.conv1/kernel')!; // 3×3×512×512
    const { mean, std } = moments(initialParameterValue(kernel, 0));
    const expected = Math.sqrt(2 / (3 * 3 * 512));
    expect(Math.abs(mean)).toBeLessThan(expected * 0.01);
    expect(std / expected).toBeCloseTo(1, 2);
  });

  it('starts batch norm at γ = 1 and β = 0 and the dense layer uniform within ±1/√fan_in', () => {
    const parameters = listParameters(describeResNet({ depth: 18 }));
    const value = (name: string) => initialParameterValue(parameters.find((p) => p.name === name)!, 0);
    expect([...value('layer1.0.bn1/gamma')].every((v) => v === 1)).toBe(true);
    expect([...value('layer1.0.bn1/beta')].every((v) => v === 0)).toBe(true);
    const bound = 1 / Math.sqrt(512);
    for (const name of ['fc/kernel', 'fc/bias']) {
      const values = value(name);
      expect(Math.max(...values)).toBeLessThanOrEqual(bound);
      expect(Math.min(...values)).toBeGreaterThanOrEqual(-bound);
      expect(Math.max(...values)).toBeGreaterThan(bound * 0.9);
    }
  });

  it.each([18, 50] as const)('with zeroInitResidual starts exactly the γ ending each residual path of ResNet-%i at 0', (depth) => {
    const architecture = describeResNet({ depth, zeroInitResidual: true });
    const ends = new Set(architecture.blocks.map((b) => `${b.path[b.path.length - 1]!.bn.name}/gamma`));
    expect(ends.size).toBe(architecture.blocks.length);
    const model = buildResNet({ depth, stem: 'small', widthMultiplier: 0.125, imageSize: 8, zeroInitResidual: true });
    try {
      for (const { spec, variable } of model.parameters) {
        if (spec.role !== 'bn-gamma') continue;
        const values = [...(variable.dataSync() as Float32Array)];
        expect(values.every((v) => v === (ends.has(spec.name) ? 0 : 1)), spec.name).toBe(true);
      }
    } finally {
      model.dispose();
    }
    // Shortcut batch norms and the stem keep γ = 1, and without the option every γ is 1.
    expect(ends.has('layer2.0.downsample.1/gamma')).toBe(false);
    const plain = listParameters(describeResNet({ depth })).filter((p) => p.role === 'bn-gamma');
    expect(plain.every((p) => initialParameterValue(p, 0).every((v) => v === 1))).toBe(true);
  });
});

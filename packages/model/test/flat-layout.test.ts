import { describe, expect, it } from 'vitest';

import { describeFlatLayout, flatLayoutFor, sectionEntries } from '../src/flat-layout.ts';
import { describeResNet, listParameters } from '../src/resnet.ts';

describe('the flat layout', () => {
  const architecture = describeResNet({ depth: 18, stem: 'small', widthMultiplier: 0.25 });
  const layout = flatLayoutFor(architecture);

  it('lists every trainable tensor in model order, then every running statistic', () => {
    const names = layout.entries.map((e) => e.name);
    expect(names.slice(0, 6)).toEqual([
      'conv1/kernel',
      'bn1/gamma',
      'bn1/beta',
      'layer1.0.conv1/kernel',
      'layer1.0.bn1/gamma',
      'layer1.0.bn1/beta',
    ]);
    const gradient = sectionEntries(layout, 'gradient');
    expect(gradient.map((e) => e.name)).toEqual(listParameters(architecture).map((p) => p.name));
    expect(gradient.slice(-2).map((e) => e.name)).toEqual(['fc/kernel', 'fc/bias']);
    // A block's shortcut follows its path.
    expect(names.indexOf('layer2.0.downsample.0/kernel')).toBe(names.indexOf('layer2.0.bn2/beta') + 1);
    const statistics = sectionEntries(layout, 'statistics');
    expect(statistics.slice(0, 4).map((e) => e.name)).toEqual([
      'bn1/moving_mean',
      'bn1/moving_variance',
      'layer1.0.bn1/moving_mean',
      'layer1.0.bn1/moving_variance',
    ]);
    expect(layout.entries.findIndex((e) => e.section === 'statistics')).toBe(gradient.length);
  });

  it('packs the entries without gaps and totals their sizes', () => {
    let offset = 0;
    for (const entry of layout.entries) {
      expect(entry.offset, entry.name).toBe(offset);
      expect(entry.size).toBe(entry.shape.reduce((a, b) => a * b, 1));
      offset += entry.size;
    }
    expect(layout.totalLength).toBe(offset);
    expect(layout.gradientLength + layout.statisticsLength).toBe(offset);
    expect(layout.statisticsLength).toBe(2 * sectionEntries(layout, 'gradient').filter((e) => e.role === 'bn-gamma').reduce((a, e) => a + e.size, 0));
  });

  it('is the same for every image size and seed, and differs between architectures', () => {
    expect(flatLayoutFor(describeResNet({ depth: 18, stem: 'small', widthMultiplier: 0.25, imageSize: 96, seed: 3 })).digest).toBe(
      layout.digest,
    );
    expect(flatLayoutFor(describeResNet({ depth: 18, stem: 'small', widthMultiplier: 0.5 })).digest).not.toBe(layout.digest);
    expect(flatLayoutFor(describeResNet({ depth: 18, stem: 'small', widthMultiplier: 0.25, classes: 9 })).digest).not.toBe(
      layout.digest,
    );
  });

  it('prints one line per entry', () => {
    const text = describeFlatLayout(layout);
    expect(text.split('\n')).toHaveLength(layout.entries.length + 1);
    expect(text).toContain('layer4.1.bn2/moving_variance [128]');
  });
});

import { describe, expect, it } from 'vitest';
import { COORDINATOR_METRIC_NAMES } from '../src/index.ts';
import { busyRegistries } from './support/exposition.ts';
import { promtool } from './support/promtool.ts';

describe('promtool check metrics', () => {
  const { coordinator, worker } = busyRegistries();

  it.each([
    ['coordinator', coordinator],
    ['worker', worker],
  ])("finds no lint problem in the %s's exposition", async (_who, registry) => {
    const exposition = await registry.metrics();
    const result = promtool(['check', 'metrics'], { input: exposition });
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  });

  it('flags a counter that lost its _total suffix, so the check can fail', async () => {
    const name = COORDINATOR_METRIC_NAMES.examplesProcessed;
    const broken = (await coordinator.metrics()).replaceAll(name, name.replace(/_total$/, ''));
    const result = promtool(['check', 'metrics'], { input: broken });
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/counter metrics should have "_total" suffix/);
  });
});

import { describe, expect, it } from 'vitest';
import type { RunResult } from '@ringtrain/coordinator';
import { formatSummary, summarize } from './summary.ts';

const RESULT: RunResult = {
  epochs: [],
  timeToAccuracy: [],
  stoppedEarly: null,
  testAccuracy: 0.9,
  testLoss: 0.3,
  trainAccuracy: 0.88,
  trainLoss: 0.35,
  examplesPerSecond: 1000,
  trainingSeconds: 60,
  wallSeconds: 61,
  workers: 2,
  globalBatchSize: 256,
  unevenBatches: [],
  steps: 235,
  checksumsAgreed: 4,
  generations: 1,
  stepsDiscarded: 0,
  recoverySeconds: 0,
  meanComputeMs: 150,
  meanAllReduceMs: 40,
  meanWaitMs: 20,
  meanSentBytesPerStep: 44_740_000,
};
const CONTEXT = { wallSeconds: 62, model: 'resnet18', stem: 'd2l', imageSize: 28, widthMultiplier: 1, recipe: 'default recipe', backends: ['native'], compression: { method: 'none', rank: 0, startStep: 0 }, precision: 'f32' as const };

describe('the run summary', () => {
  it('says nothing of the batch split when every world took the global batch whole', () => {
    expect(formatSummary(summarize(RESULT, CONTEXT))).not.toContain('uneven batch');
  });

  it('names each world whose global batch fell short, and how the remainder was handled', () => {
    const summary = summarize({ ...RESULT, generations: 3, unevenBatches: [{ worldSize: 3, globalBatchSize: 255 }] }, CONTEXT);
    expect(summary.unevenBatches).toEqual([{ worldSize: 3, globalBatchSize: 255 }]);
    expect(formatSummary(summary)).toMatch(/uneven batch\s+255 while 3 workers: the batch did not split evenly, each worker took the floor and every sample still trained/);
  });
});

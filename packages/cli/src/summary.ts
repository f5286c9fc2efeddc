/**
 * The end of a run as the user sees it: a short table on stdout, and with --summary-json the
 * same figures as one JSON object.
 */
import { writeFile } from 'node:fs/promises';
import type { ConvolutionPrecision, RunResult } from '@ringtrain/coordinator';

export interface RunSummary {
  testAccuracy: number | null;
  testLoss: number | null;
  trainAccuracy: number | null;
  trainLoss: number | null;
  /** Training examples per second over all workers (evaluation and checkpoints excluded). */
  examplesPerSecond: number;
  /** From the command's start to the end of the run. */
  wallSeconds: number;
  trainingSeconds: number;
  epochs: number;
  workers: number;
  model: string;
  stem: string;
  imageSize: number;
  widthMultiplier: number;
  /** The recipe in one line: the preset (or default), optimizer, schedule and other ingredients. */
  recipe: string;
  backend: string;
  globalBatchSize: number;
  /** Worlds whose global batch fell short because it did not split over them (empty: none). */
  unevenBatches: { worldSize: number; globalBatchSize: number }[];
  steps: number;
  /** Steps at which every replica's weight checksum agreed (a divergence fails the run). */
  checksumsAgreed: number;
  /** Membership generations (1 when no worker was lost or added). */
  generations: number;
  /** Steps cut short before any replica finished them; their samples were trained again. */
  stepsDiscarded: number;
  /** Time from losing a member to training again, summed. */
  recoverySeconds: number;
  meanComputeMs: number;
  meanAllReduceMs: number;
  meanWaitMs: number;
  /** How gradients travelled in the all-reduce. */
  compression: RunCompression;
  /** What the convolutions computed in. */
  precision: ConvolutionPrecision;
  /** Bytes one worker sent per step in the all-reduces (mean over ranks and steps). */
  sentBytesPerStep: number;
  /** Each target of `--target-accuracy` reached, with the wall time from the start of training. */
  timeToAccuracy: { target: number; testAccuracy: number; epoch: number; step: number; wallSeconds: number; trainingSeconds: number }[];
  /** Why the run ended before its last epoch, or null. */
  stoppedEarly: string | null;
  history: { epoch: number; trainLoss: number; trainAccuracy: number; testLoss: number | null; testAccuracy: number | null; examplesPerSecond: number }[];
}

/** The run's gradient compression, as the coordinator sent it to every worker. */
export interface RunCompression {
  method: string;
  rank: number;
  startStep: number;
}

/** `none (f32)`, `bf16 with error feedback`, `PowerSGD rank 2 from step 20`. */
export function describeCompression(c: RunCompression): string {
  if (c.method === 'none') return 'none (f32)';
  if (c.method === 'powersgd') return `PowerSGD rank ${c.rank} from step ${c.startStep}`;
  return `${c.method} with error feedback`;
}

const orNull = (n: number): number | null => (Number.isFinite(n) ? n : null);

export function summarize(
  result: RunResult,
  context: { wallSeconds: number; model: string; stem: string; imageSize: number; widthMultiplier: number; recipe: string; backends: string[]; compression: RunCompression; precision: ConvolutionPrecision },
): RunSummary {
  return {
    testAccuracy: orNull(result.testAccuracy),
    testLoss: orNull(result.testLoss),
    trainAccuracy: orNull(result.trainAccuracy),
    trainLoss: orNull(result.trainLoss),
    examplesPerSecond: result.examplesPerSecond,
    wallSeconds: context.wallSeconds,
    trainingSeconds: result.trainingSeconds,
    epochs: result.epochs.length,
    workers: result.workers,
    model: context.model,
    stem: context.stem,
    imageSize: context.imageSize,
    widthMultiplier: context.widthMultiplier,
    recipe: context.recipe,
    backend: [...new Set(context.backends)].join(',') || 'unknown',
    globalBatchSize: result.globalBatchSize,
    unevenBatches: result.unevenBatches.map((u) => ({ ...u })),
    steps: result.steps,
    checksumsAgreed: result.checksumsAgreed,
    generations: result.generations,
    stepsDiscarded: result.stepsDiscarded,
    recoverySeconds: result.recoverySeconds,
    meanComputeMs: result.meanComputeMs,
    meanAllReduceMs: result.meanAllReduceMs,
    meanWaitMs: result.meanWaitMs,
    compression: { ...context.compression },
    precision: context.precision,
    sentBytesPerStep: result.meanSentBytesPerStep,
    timeToAccuracy: result.timeToAccuracy.map((r) => ({ ...r, epoch: r.epoch + 1 })),
    stoppedEarly: result.stoppedEarly,
    history: result.epochs.map((e) => ({
      epoch: e.epoch + 1,
      trainLoss: e.trainLoss,
      trainAccuracy: e.trainAccuracy,
      testLoss: orNull(e.testLoss),
      testAccuracy: orNull(e.testAccuracy),
      examplesPerSecond: e.examplesPerSecond,
    })),
  };
}

const pct = (n: number | null): string => (n === null ? 'n/a' : `${(n * 100).toFixed(2)}%`);

export function formatSummary(s: RunSummary): string {
  const rows: [string, string][] = [
    ['test accuracy', pct(s.testAccuracy)],
    ['train accuracy', pct(s.trainAccuracy)],
    ['train loss', s.trainLoss === null ? 'n/a' : s.trainLoss.toFixed(4)],
    ['examples/s', s.examplesPerSecond.toFixed(1)],
    ['wall time', `${s.wallSeconds.toFixed(1)} s (training ${s.trainingSeconds.toFixed(1)} s)`],
    ['step time split', `compute ${s.meanComputeMs.toFixed(1)} ms, all-reduce ${s.meanAllReduceMs.toFixed(1)} ms, waiting ${s.meanWaitMs.toFixed(1)} ms`],
    ['run', `${s.model} (${s.stem} stem, ${s.imageSize}×${s.imageSize}${s.widthMultiplier === 1 ? '' : `, width ×${s.widthMultiplier}`}), ${s.epochs} epoch(s), ${s.steps} steps`],
    ['recipe', s.recipe],
    ['gradient on the wire', `${describeCompression(s.compression)}: ${(s.sentBytesPerStep / 1e6).toFixed(3)} MB sent per worker per step`],
    ['workers', `${s.workers} × batch ${s.globalBatchSize / Math.max(1, s.workers)} = ${s.globalBatchSize}, backend ${s.backend}`],
  ];
  for (const r of s.timeToAccuracy) {
    rows.push([`time to ${r.target}`, `${r.wallSeconds.toFixed(1)} s (epoch ${r.epoch}, step ${r.step}, test accuracy ${pct(r.testAccuracy)})`]);
  }
  if (s.unevenBatches.length > 0) {
    const worlds = s.unevenBatches.map((u) => `${u.globalBatchSize} while ${u.worldSize} workers`).join(', ');
    rows.push(['uneven batch', `${worlds}: the batch did not split evenly, each worker took the floor and every sample still trained, in more steps`]);
  }
  if (s.stoppedEarly !== null) rows.push(['stopped early', s.stoppedEarly]);
  if (s.generations > 1) {
    rows.push(['membership', `${s.generations} generations, ${s.stepsDiscarded} step(s) discarded, ${s.recoverySeconds.toFixed(1)} s recovering`]);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n');
}

export async function writeSummaryJson(path: string, summary: RunSummary): Promise<void> {
  await writeFile(path, `${JSON.stringify(summary, null, 2)}\n`);
}

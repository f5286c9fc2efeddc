/**
 * Training steps: the plan each rank gets, the reports it sends back, and the commit of a step
 * once every rank of the generation finished it (or, at a regroup, once a survivor is known to
 * have finished it: see generation.ts).
 */
import { PROTOCOL_VERSION } from '@ringtrain/protocol';
import { COORDINATOR_ERROR_CODES } from '../errors.ts';
import { fail, findWorker, isActive, isCurrent, log, plural, rankList, ranked, violation, waitFromNow, type Ctx } from './context.ts';
import type { StepProgress } from './effects.ts';
import { beginEvaluation, shipMissing } from './epoch.ts';
import type { GradientReadyEvent, StepReportedEvent } from './events.ts';
import { emptyTally, type CoordinatorState, type StepTally } from './state.ts';

/**
 * The learning rate of the step that starts at `startOffset` of the current epoch's order,
 * scaled linearly with the global batch under `fixed-per-worker`. The schedule is read at how
 * far training has come, in steps of the current global batch: a world that changed size (and
 * with it the steps per epoch) neither replays nor skips part of the schedule. With one world
 * size all along this is the global step.
 */
function learningRateOf(d: CoordinatorState, startOffset: number): number {
  const globalBatch = d.batchSizePerWorker * d.worldSize;
  const progressInSteps = d.epoch * d.stepsPerEpoch + Math.floor(startOffset / globalBatch);
  const rate = d.config.learningRate(progressInSteps, d.stepsPerEpoch);
  const reference = d.reference;
  if (d.config.batchScaling !== 'fixed-per-worker' || reference === null) return rate;
  return (rate * d.worldSize) / reference.worldSize;
}

/** Sends every rank its part of the current plan (the rest of the epoch from `nextStep`). */
export function beginPlan(ctx: Ctx, atMs: number): void {
  const { d } = ctx;
  const plan = d.plan;
  if (plan === null) return;
  d.planFirstStep = d.nextStep;
  d.phase = 'training';
  if (!d.epochOpen) {
    d.epochOpen = true;
    d.epochTotals = { lossSum: 0, correct: 0, count: 0 };
    d.epochStartedAtMs = atMs;
  }
  const rates = new Float32Array(plan.steps);
  const positions = new Uint32Array(plan.steps);
  for (let i = 0; i < plan.steps; i++) {
    rates[i] = learningRateOf(d, i === 0 ? d.planOffset : (positions[i - 1] as number));
    positions[i] = plan.offsetAfter(i + 1);
  }
  const b = d.batchSizePerWorker;
  for (const w of ranked(d)) {
    const shard = plan.shards[w.rank ?? 0] ?? new Uint32Array(0);
    shipMissing(ctx, w, 'train', shard);
    // A plan message holds whole batches only; a shorter last batch travels as a plan of its own.
    const whole = Math.min(plan.steps, Math.floor(shard.length / b));
    const parts = [{ from: 0, steps: whole }];
    if (whole < plan.steps) parts.push({ from: whole, steps: plan.steps - whole });
    for (const part of parts) {
      if (part.steps === 0) continue;
      ctx.out.push({
        kind: 'send',
        workerId: w.workerId,
        message: {
          v: PROTOCOL_VERSION,
          type: 'plan',
          generation: d.generation,
          epoch: d.epoch,
          firstStep: d.planFirstStep + part.from,
          indices: shard.subarray(part.from * b, Math.min(shard.length, (part.from + part.steps) * b)),
          learningRates: rates.subarray(part.from, part.from + part.steps),
          positions: positions.subarray(part.from, part.from + part.steps),
        },
      });
    }
  }
  const rest = d.planOffset > 0 ? ` (the rest of the epoch, from sample ${d.planOffset} of its order)` : '';
  log(ctx, 'info', `epoch ${d.epoch + 1} of ${d.config.epochs}: ${plural(plan.steps, 'step')} from global step ${d.planFirstStep}${rest}`);
  waitFromNow(d, atMs);
}

/** A rank computed its gradient of a step and entered the all-reduce (the stall inspector's view). */
export function onGradientReady(ctx: Ctx, e: GradientReadyEvent): void {
  const w = findWorker(ctx, e.workerId);
  if (w === undefined || !isActive(ctx.d)) return;
  if (!isCurrent(ctx, w, e.generation, `the gradient of step ${e.step}`)) return;
  if (e.step > w.contributedStep) w.contributedStep = e.step;
}

export function onStepReported(ctx: Ctx, e: StepReportedEvent): void {
  const { d } = ctx;
  const w = findWorker(ctx, e.workerId);
  if (w === undefined || !isActive(d)) return;
  const r = e.report;
  if (!isCurrent(ctx, w, r.generation, `the report of step ${r.step}`)) return;
  if (d.phase !== 'training') return violation(ctx, w, `reported step ${r.step} while the run is ${d.phase}`);
  const expected = w.lastStep + 1;
  if (r.step !== expected || r.epoch !== d.epoch || r.step >= d.planFirstStep + (d.plan?.steps ?? 0)) {
    return violation(ctx, w, `reported step ${r.step} of epoch ${r.epoch}, expected step ${expected} of epoch ${d.epoch}`);
  }
  w.lastStep = r.step;
  if (r.step > w.contributedStep) w.contributedStep = r.step;
  const tally: StepTally = d.tallies.get(r.step) ?? emptyTally();
  tally.reports += 1;
  tally.lossSum += r.loss * r.count;
  tally.correct += r.correct;
  tally.count += r.count;
  tally.computeMs += r.computeMs;
  tally.allReduceMs += r.allReduceMs;
  tally.waitMs += r.waitMs;
  tally.sentBytes += r.sentBytes;
  if (r.weightChecksum !== '') tally.checksums[w.rank ?? 0] = r.weightChecksum;
  d.tallies.set(r.step, tally);
  if (tally.reports < d.worldSize) return;

  compareChecksums(ctx, r.step, tally);
  if (!isActive(d)) return;
  commitStep(ctx, r.step, e.atMs, 'all-ranks');
  waitFromNow(d, e.atMs);
  if (d.nextStep === d.planFirstStep + (d.plan?.steps ?? 0)) {
    d.trainingMs += e.atMs - d.epochStartedAtMs;
    beginEvaluation(ctx, e.atMs);
  }
}

/**
 * Step `s` of the current plan counts: its samples go to the step log, its tally (all ranks',
 * or the survivors' part of it) to the epoch's figures.
 */
export function commitStep(ctx: Ctx, s: number, atMs: number, via: 'all-ranks' | 'survivor'): void {
  const { d } = ctx;
  const plan = d.plan;
  if (plan === null) return;
  const tally = d.tallies.get(s) ?? emptyTally();
  d.tallies.delete(s);
  const i = s - d.planFirstStep;
  const b = d.planBatchSize;
  const indices = plan.shards.map((shard) => shard.subarray(Math.min(shard.length, i * b), Math.min(shard.length, (i + 1) * b)));
  const realCounts = indices.map((batch, rank) => Math.max(0, Math.min(batch.length, (plan.realCounts?.[rank] ?? Number.POSITIVE_INFINITY) - i * b)));
  ctx.out.push({ kind: 'step-committed', generation: d.generation, epoch: d.epoch, step: s, indices, realCounts, via });
  d.nextStep = s + 1;
  d.regroupsWithoutProgress = 0;
  d.epochTotals.lossSum += tally.lossSum;
  d.epochTotals.correct += tally.correct;
  d.epochTotals.count += tally.count;
  d.examples += tally.count;
  d.timeSums.computeMs += tally.computeMs;
  d.timeSums.allReduceMs += tally.allReduceMs;
  d.timeSums.waitMs += tally.waitMs;
  d.timeSums.sentBytes += tally.sentBytes;
  d.timeSums.reports += tally.reports;
  const reports = Math.max(1, tally.reports);
  const elapsedMs = Math.max(1, atMs - d.epochStartedAtMs);
  const progress: StepProgress = {
    type: 'step',
    epoch: d.epoch,
    step: s,
    stepInEpoch: Math.max(1, Math.min(d.stepsPerEpoch, d.stepsPerEpoch - plan.steps + i + 1)),
    stepsPerEpoch: d.stepsPerEpoch,
    loss: tally.lossSum / Math.max(1, tally.count),
    accuracy: tally.correct / Math.max(1, tally.count),
    epochLoss: d.epochTotals.lossSum / Math.max(1, d.epochTotals.count),
    epochAccuracy: d.epochTotals.correct / Math.max(1, d.epochTotals.count),
    examplesPerSecond: (d.epochTotals.count * 1000) / elapsedMs,
    computeMs: tally.computeMs / reports,
    allReduceMs: tally.allReduceMs / reports,
    waitMs: tally.waitMs / reports,
  };
  ctx.out.push({ kind: 'progress', progress });
  if (via === 'survivor') log(ctx, 'info', `step ${s} counts: a surviving replica finished it (${tally.reports} of ${plan.shards.length} ranks had reported it)`);
}

/** Replicas must hold bit-identical weights; a difference is reported loudly, naming the ranks. */
function compareChecksums(ctx: Ctx, stepIndex: number, tally: StepTally): void {
  const { d } = ctx;
  const entries = Object.entries(tally.checksums).map(([rank, sum]) => ({ rank: Number(rank), sum }));
  if (entries.length === 0) return;
  let problem: string | null = null;
  if (entries.length < d.worldSize) {
    const missing = ranked(d)
      .map((w) => w.rank ?? 0)
      .filter((rank) => !entries.some((x) => x.rank === rank));
    problem = `at step ${stepIndex} ${rankList(entries.map((x) => x.rank))} sent a weight checksum and ${rankList(missing)} did not`;
  } else {
    const groups = new Map<string, number[]>();
    for (const { rank, sum } of entries) groups.set(sum, [...(groups.get(sum) ?? []), rank]);
    if (groups.size > 1) {
      const parts = [...groups].map(([sum, ranks]) => `${ranks.length === 1 ? 'rank' : 'ranks'} ${ranks.join(', ')} ${ranks.length === 1 ? 'has' : 'have'} ${sum}`);
      problem = `replica weights diverged at step ${stepIndex}: ${parts.join('; ')}`;
    }
  }
  if (problem === null) {
    d.checksumsAgreed += 1;
    log(ctx, 'debug', `weights of all ${d.worldSize} replicas agree at step ${stepIndex}`, { checksum: entries[0]?.sum });
    return;
  }
  if (d.config.onDivergence === 'fail') fail(ctx, COORDINATOR_ERROR_CODES.divergence, problem);
  else log(ctx, 'error', `REPLICAS DIVERGED: ${problem}`, { code: COORDINATOR_ERROR_CODES.divergence });
}

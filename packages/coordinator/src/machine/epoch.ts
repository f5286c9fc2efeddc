/**
 * The end of an epoch: evaluation over contiguous shares of the test set, the epoch's summary,
 * its checkpoint, then the next epoch or the end of the run. A generation that changes in the
 * middle of any of these starts it again with its own members (generation.ts, `goOn`).
 */
import { PROTOCOL_VERSION } from '@ringtrain/protocol';
import { describe, findWorker, isActive, isCurrent, log, ranked, violation, waitFromNow, type Ctx } from './context.ts';
import type { EpochProgress, RunResult, TargetReached } from './effects.ts';
import type { EvaluationReportedEvent, StateReportedEvent } from './events.ts';
import { onRelayedState } from './generation.ts';
import { contiguousShare } from './sharder.ts';
import type { CoordinatorState, GenerationRecord, WorkerRecord } from './state.ts';
import { beginPlan } from './training.ts';

export function testShare(d: CoordinatorState, rank: number): Uint32Array {
  const { start, end } = contiguousShare(d.config.testCount, rank, d.worldSize);
  const indices = new Uint32Array(end - start);
  for (let i = 0; i < indices.length; i++) indices[i] = start + i;
  return indices;
}

/** Ships the images of `indices` the worker does not hold yet. */
export function shipMissing(ctx: Ctx, w: WorkerRecord, split: 'train' | 'test', indices: Uint32Array): void {
  const size = split === 'train' ? ctx.d.config.sharder.trainCount : ctx.d.config.testCount;
  const held = split === 'train' ? w.sentTrain : w.sentTest;
  const next = held === null ? new Uint8Array(size) : held.slice();
  const missing: number[] = [];
  for (const index of indices) {
    if (next[index] === 0) {
      next[index] = 1;
      missing.push(index);
    }
  }
  if (split === 'train') w.sentTrain = next;
  else w.sentTest = next;
  if (missing.length > 0) {
    ctx.out.push({ kind: 'ship-data', workerId: w.workerId, generation: ctx.d.generation, split, indices: Uint32Array.from(missing) });
  }
}

// ---------------------------------------------------------------- evaluating

export function beginEvaluation(ctx: Ctx, atMs: number): void {
  const { d } = ctx;
  if (d.config.testCount === 0) return endEpoch(ctx, atMs);
  d.phase = 'evaluating';
  d.evalTotals = { lossSum: 0, correct: 0, count: 0 };
  for (const w of ranked(d)) {
    w.evaluated = false;
    const indices = testShare(d, w.rank ?? 0);
    shipMissing(ctx, w, 'test', indices);
    ctx.out.push({ kind: 'send', workerId: w.workerId, message: { v: PROTOCOL_VERSION, type: 'evaluate', generation: d.generation, epoch: d.epoch, indices } });
  }
  waitFromNow(d, atMs);
}

export function onEvaluation(ctx: Ctx, e: EvaluationReportedEvent): void {
  const { d } = ctx;
  const w = findWorker(ctx, e.workerId);
  if (w === undefined || !isActive(d)) return;
  const r = e.evaluation;
  if (!isCurrent(ctx, w, r.generation, `the evaluation of epoch ${r.epoch}`)) return;
  if (d.phase !== 'evaluating' || w.evaluated || r.epoch !== d.epoch) {
    return violation(ctx, w, `sent an evaluation of epoch ${r.epoch} while the run is ${d.phase} in epoch ${d.epoch}`);
  }
  const { start, end } = contiguousShare(d.config.testCount, w.rank ?? 0, d.worldSize);
  if (r.count !== end - start) {
    return violation(ctx, w, `evaluated ${r.count} examples, but its share of the test set is ${end - start}`);
  }
  w.evaluated = true;
  d.evalTotals.lossSum += r.lossSum;
  d.evalTotals.correct += r.correct;
  d.evalTotals.count += r.count;
  if (ranked(d).every((x) => x.evaluated)) endEpoch(ctx, e.atMs);
}

function endEpoch(ctx: Ctx, atMs: number): void {
  const { d } = ctx;
  const t = d.epochTotals;
  const ev = d.evalTotals;
  const trainingMs = d.trainingMs - d.history.reduce((sum, h) => sum + h.trainingMs, 0);
  const summary: EpochProgress = {
    type: 'epoch',
    epoch: d.epoch,
    // NaN when this coordinator saw no step of the epoch (it was restarted at its end).
    trainLoss: t.count > 0 ? t.lossSum / t.count : Number.NaN,
    trainAccuracy: t.count > 0 ? t.correct / t.count : Number.NaN,
    testLoss: ev.count > 0 ? ev.lossSum / ev.count : Number.NaN,
    testAccuracy: ev.count > 0 ? ev.correct / ev.count : Number.NaN,
    examples: t.count,
    trainingMs,
    examplesPerSecond: (t.count * 1000) / Math.max(1, trainingMs),
  };
  d.history.push(summary);
  d.epochEvaluated = true;
  ctx.out.push({ kind: 'progress', progress: summary });
  recordTargets(ctx, summary, atMs);
  log(
    ctx,
    'info',
    `epoch ${d.epoch + 1} of ${d.config.epochs}: train loss ${summary.trainLoss.toFixed(4)}, train accuracy ${summary.trainAccuracy.toFixed(4)}, ` +
      `test accuracy ${summary.testAccuracy.toFixed(4)}, ${summary.examplesPerSecond.toFixed(1)} examples/s`,
  );
  if (checkpointDue(d)) {
    d.phase = 'checkpointing';
    requestState(ctx, 'epoch', atMs);
    return;
  }
  advance(ctx, atMs);
}

/** Times each target accuracy this evaluation reached for the first time. */
function recordTargets(ctx: Ctx, summary: EpochProgress, atMs: number): void {
  const { d } = ctx;
  for (const target of d.config.targetAccuracies) {
    if (!(summary.testAccuracy >= target) || d.targetsReached.some((r) => r.target === target)) continue;
    const reached: TargetReached = {
      target,
      testAccuracy: summary.testAccuracy,
      epoch: summary.epoch,
      step: d.nextStep,
      wallSeconds: (atMs - (d.startedAtMs ?? atMs)) / 1000,
      trainingSeconds: d.trainingMs / 1000,
    };
    d.targetsReached.push(reached);
    ctx.out.push({ kind: 'progress', progress: { type: 'target-reached', ...reached } });
    log(ctx, 'info', `test accuracy ${summary.testAccuracy.toFixed(4)} reached the target ${target} after ${reached.wallSeconds.toFixed(1)} s (epoch ${summary.epoch + 1}, step ${d.nextStep})`);
  }
}

/** Whether the run stops here because every target accuracy was reached. */
function allTargetsReached(d: CoordinatorState): boolean {
  return d.config.stopAtTargetAccuracy && d.targetsReached.length === d.config.targetAccuracies.length;
}

export function checkpointDue(d: CoordinatorState): boolean {
  return d.config.checkpointEveryEpochs > 0 && (d.epoch + 1) % d.config.checkpointEveryEpochs === 0;
}

/** The next epoch (dealt over the current world from its start), or the end of the run. */
export function advance(ctx: Ctx, atMs: number): void {
  const { d } = ctx;
  if (d.epoch + 1 >= d.config.epochs) return finish(ctx, atMs, null);
  if (allTargetsReached(d)) {
    const targets = d.config.targetAccuracies.join(', ');
    return finish(ctx, atMs, `every target accuracy (${targets}) was reached after epoch ${d.epoch + 1} of ${d.config.epochs}`);
  }
  d.epoch += 1;
  d.epochEvaluated = false;
  d.epochCheckpointed = false;
  d.epochOpen = false;
  d.planOffset = 0;
  d.planFirstStep = d.nextStep;
  d.plan = d.config.sharder.plan(d.epoch, 0, d.worldSize, d.batchSizePerWorker);
  d.planBatchSize = d.batchSizePerWorker;
  beginPlan(ctx, atMs);
}

// ---------------------------------------------------------------- checkpoints

export function requestState(ctx: Ctx, reason: 'epoch' | 'on-demand', atMs: number): void {
  const { d } = ctx;
  const rank0 = ranked(d)[0];
  if (rank0 === undefined) return;
  d.pendingState = { reason, workerId: rank0.workerId };
  ctx.out.push({ kind: 'send', workerId: rank0.workerId, message: { v: PROTOCOL_VERSION, type: 'state-request', generation: d.generation, step: d.nextStep } });
  if (reason === 'epoch') waitFromNow(d, atMs);
}

export function onCheckpointRequested(ctx: Ctx, atMs: number): void {
  const { d } = ctx;
  if (d.config.checkpointEveryEpochs === 0) return log(ctx, 'warn', 'a checkpoint was asked for, but this run has no checkpoint directory');
  if (d.phase !== 'training' || d.pendingState !== null) {
    return log(ctx, 'info', `a checkpoint was asked for while the run is ${d.phase}${d.pendingState === null ? '' : ' and a state is on its way'}; skipped`);
  }
  log(ctx, 'info', `taking a checkpoint on demand at step ${d.nextStep}`);
  requestState(ctx, 'on-demand', atMs);
}

export function onState(ctx: Ctx, e: StateReportedEvent): void {
  const { d } = ctx;
  const w = findWorker(ctx, e.workerId);
  if (w === undefined || !isActive(d)) return;
  if (!isCurrent(ctx, w, e.generation, 'a state')) return;
  const pending = d.pendingState;
  if (pending === null || pending.workerId !== w.workerId) return violation(ctx, w, 'sent its state unasked');
  if (pending.reason === 'relay') return onRelayedState(ctx, e, w);
  d.pendingState = null;
  if (pending.reason === 'epoch') {
    if (e.step !== d.nextStep) return violation(ctx, w, `sent the state of step ${e.step} at the end of an epoch that ends at step ${d.nextStep}`);
    const position = { epoch: d.epoch + 1, offset: 0 };
    ctx.out.push({ kind: 'write-checkpoint', reason: 'epoch', step: e.step, position, bytes: e.bytes });
    ctx.out.push({ kind: 'hold-state', step: e.step, bytes: e.bytes });
    d.held = { step: e.step, position };
    d.epochCheckpointed = true;
    advance(ctx, e.atMs);
    return;
  }
  const done = e.step - d.planFirstStep;
  const steps = d.plan?.steps ?? 0;
  if (d.phase !== 'training' || d.plan === null || done < 0 || done > steps) {
    return log(ctx, 'warn', `dropped an on-demand state of step ${e.step} from ${describe(w)}: the run is ${d.phase} with steps ${d.planFirstStep}..${d.planFirstStep + steps}`);
  }
  const position = done === steps ? { epoch: d.epoch + 1, offset: 0 } : { epoch: d.epoch, offset: d.plan.offsetAfter(done) };
  ctx.out.push({ kind: 'write-checkpoint', reason: 'on-demand', step: e.step, position, bytes: e.bytes });
}

// ---------------------------------------------------------------- the end

function finish(ctx: Ctx, atMs: number, stoppedEarly: string | null): void {
  const { d } = ctx;
  d.phase = 'finished';
  const reason = stoppedEarly === null ? 'training finished' : `training finished: ${stoppedEarly}`;
  for (const w of d.workers) ctx.out.push({ kind: 'send', workerId: w.workerId, message: { v: PROTOCOL_VERSION, type: 'stop', reason, failed: false } });
  const last = d.history[d.history.length - 1];
  const reports = Math.max(1, d.timeSums.reports);
  const result: RunResult = {
    epochs: d.history,
    timeToAccuracy: d.targetsReached,
    stoppedEarly,
    testAccuracy: last?.testAccuracy ?? Number.NaN,
    testLoss: last?.testLoss ?? Number.NaN,
    trainAccuracy: last?.trainAccuracy ?? Number.NaN,
    trainLoss: last?.trainLoss ?? Number.NaN,
    examplesPerSecond: (d.examples * 1000) / Math.max(1, d.trainingMs),
    trainingSeconds: d.trainingMs / 1000,
    wallSeconds: (atMs - (d.startedAtMs ?? atMs)) / 1000,
    workers: d.worldSize,
    globalBatchSize: d.batchSizePerWorker * d.worldSize,
    unevenBatches: unevenBatches(d.generations, d.config.globalBatchSize),
    steps: d.nextStep,
    checksumsAgreed: d.checksumsAgreed,
    generations: d.generation,
    stepsDiscarded: d.recovery.stepsDiscarded,
    recoverySeconds: d.recovery.lostMs / 1000,
    meanComputeMs: d.timeSums.computeMs / reports,
    meanAllReduceMs: d.timeSums.allReduceMs / reports,
    meanWaitMs: d.timeSums.waitMs / reports,
    meanSentBytesPerStep: d.timeSums.sentBytes / reports,
  };
  log(ctx, 'info', `training finished after ${d.nextStep} steps: test accuracy ${result.testAccuracy.toFixed(4)}`);
  ctx.out.push({ kind: 'finished', result });
}

/** The distinct worlds of the run whose global batch fell short of `asked`, in the order they came. */
function unevenBatches(generations: readonly GenerationRecord[], asked: number): { worldSize: number; globalBatchSize: number }[] {
  const seen = new Map<number, number>();
  for (const g of generations) if (g.globalBatchSize !== asked && !seen.has(g.worldSize)) seen.set(g.worldSize, g.globalBatchSize);
  return [...seen].map(([worldSize, globalBatchSize]) => ({ worldSize, globalBatchSize }));
}

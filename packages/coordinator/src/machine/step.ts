/**
 * The coordinator as a pure state machine: `step(state, event) -> { state, outbox }`.
 *
 * The socket server is a thin shell around this function: it turns messages, disconnections,
 * timers and operator requests into events, and executes the returned outbox (send, ship data,
 * close, write a checkpoint, log, report progress). Nothing here performs I/O or reads a clock,
 * so a run can be replayed from a transcript of events (see test/testdata/*.txt).
 *
 * The run, phase by phase:
 *   rendezvous    workers join (`worker-joined`); once `minWorkers` are in, the machine waits
 *                 `rendezvousSettleMs` for more (or starts at once at `maxWorkers`).
 *   starting      generation g opens: ranks follow join order, the ring follows ranks; every worker
 *                 gets `assign`, the starting state and the images of its first shard and test
 *                 share. The machine waits for `ready` from every rank.
 *   training      each rank gets the plan of the epoch. A step is done when every rank reported
 *                 it; weight checksums of a step are compared across ranks then.
 *   evaluating    each rank evaluates its contiguous share of the test set; the shares are summed.
 *   checkpointing rank 0 sends its state, which goes to disk; then the next epoch or the end.
 *
 * Membership is versioned by generation. For now losing a worker after the rendezvous fails the
 * run and names the worker; recovery will open generation g+1 with the survivors, and the
 * sampler's `resumeFrom` re-partitions what remains of the epoch among them.
 */
import { COORDINATOR_ERROR_CODES, type CoordinatorErrorCode } from '../errors.ts';
import type { Effect, EpochProgress, RunResult, StepProgress } from './effects.ts';
import type { CoordinatorEvent, EvaluationReportedEvent, StateReportedEvent, StepReportedEvent, WorkerJoinedEvent } from './events.ts';
import { contiguousShare } from './sharder.ts';
import { draftOf, type CoordinatorState, type StepTally, type WorkerRecord } from './state.ts';

/** WebSocket close code for a policy violation (RFC 6455). */
export const CLOSE_POLICY_VIOLATION = 1008;

export interface StepResult {
  state: CoordinatorState;
  outbox: Effect[];
}

/** Advances the machine by one event. Never mutates `state`. */
export function step(state: CoordinatorState, event: CoordinatorEvent): StepResult {
  const d = draftOf(state);
  const out: Effect[] = [];
  const ctx: Ctx = { d, out };
  switch (event.type) {
    case 'worker-joined':
      onJoined(ctx, event);
      break;
    case 'worker-ready':
      onReady(ctx, event.workerId, event.generation, event.atMs);
      break;
    case 'step-reported':
      onStepReported(ctx, event);
      break;
    case 'evaluation-reported':
      onEvaluation(ctx, event);
      break;
    case 'state-reported':
      onState(ctx, event);
      break;
    case 'worker-left':
      onLeft(ctx, event.workerId, event.reason, event.errorCode, event.atMs);
      break;
    case 'checkpoint-requested':
      onCheckpointRequested(ctx);
      break;
    case 'checkpoint-written':
      if (event.error === undefined) {
        log(ctx, 'info', `checkpoint of step ${event.step} written to ${event.path}`, { path: event.path, step: event.step });
      } else {
        log(ctx, 'error', `writing the checkpoint of step ${event.step} to ${event.path} failed: ${event.error}`);
      }
      break;
    case 'stop-requested':
      if (isActive(d)) fail(ctx, COORDINATOR_ERROR_CODES.interrupted, `the run was stopped: ${event.reason}`);
      break;
    case 'tick':
      onTick(ctx, event.atMs);
      break;
    default: {
      const unknown: never = event;
      throw new Error(`unknown coordinator event ${JSON.stringify(unknown)}`);
    }
  }
  return { state: d, outbox: out };
}

interface Ctx {
  d: CoordinatorState;
  out: Effect[];
}

function isActive(d: CoordinatorState): boolean {
  return d.phase !== 'finished' && d.phase !== 'failed';
}

function log(ctx: Ctx, level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void {
  ctx.out.push(fields === undefined ? { kind: 'log', level, message } : { kind: 'log', level, message, fields });
}

function describe(w: WorkerRecord): string {
  const rank = w.rank === null ? '' : `rank ${w.rank}, `;
  return `worker ${w.workerId} (${rank}${w.hostname} pid ${w.pid})`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function rankList(ranks: number[]): string {
  return `${ranks.length === 1 ? 'rank' : 'ranks'} ${ranks.join(', ')}`;
}

function ranked(d: CoordinatorState): WorkerRecord[] {
  return d.workers.filter((w) => w.rank !== null).sort((a, b) => (a.rank ?? 0) - (b.rank ?? 0));
}

function namesOf(workers: WorkerRecord[]): string {
  const ranks = workers.map((w) => w.rank);
  const label = ranks.length === 1 ? 'rank' : 'ranks';
  return `${label} ${ranks.join(', ')} (${workers.map((w) => `${w.workerId} on ${w.hostname} pid ${w.pid}`).join('; ')})`;
}

// ---------------------------------------------------------------- rendezvous

function onJoined(ctx: Ctx, e: WorkerJoinedEvent): void {
  const { d } = ctx;
  const refuse = (reason: string): void => {
    ctx.out.push({ kind: 'refuse', connectionId: e.connectionId, code: CLOSE_POLICY_VIOLATION, errorCode: COORDINATOR_ERROR_CODES.joinRefused, reason });
    log(ctx, 'warn', `refused worker ${e.workerId} from ${e.hostname} pid ${e.pid}: ${reason}`);
  };
  if (!isActive(d)) return refuse('the run is over');
  if (d.workers.some((w) => w.workerId === e.workerId)) {
    return refuse(`worker id ${e.workerId} is already taken by a connected worker`);
  }
  if (d.phase !== 'rendezvous') {
    return refuse(`the run has started (generation ${d.generation}, ${d.worldSize} workers); joining a running ring is not supported yet`);
  }
  if (d.workers.length >= d.config.maxWorkers) return refuse(`the ring is full (${d.config.maxWorkers} workers at most)`);

  d.workers.push({
    workerId: e.workerId,
    hostname: e.hostname,
    pid: e.pid,
    backend: e.backend,
    peerAddress: e.peerAddress,
    joinedAtMs: e.atMs,
    rank: null,
    ready: false,
    lastStep: -1,
    evaluated: false,
    sentTrain: null,
    sentTest: null,
  });
  ctx.out.push({ kind: 'send', workerId: e.workerId, message: { v: 1, type: 'welcome', workerId: e.workerId } });
  log(ctx, 'info', `worker ${e.workerId} joined from ${e.hostname} pid ${e.pid} (backend ${e.backend}); ${d.workers.length} joined, ${d.config.minWorkers} needed to start`, {
    workerId: e.workerId,
    peerAddress: e.peerAddress,
  });
  ctx.out.push({ kind: 'progress', progress: { type: 'rendezvous', joined: d.workers.length, minWorkers: d.config.minWorkers, maxWorkers: d.config.maxWorkers } });
  if (d.workers.length === d.config.minWorkers) d.minReachedAtMs = e.atMs;
  if (d.workers.length >= d.config.maxWorkers || (d.workers.length >= d.config.minWorkers && d.config.rendezvousSettleMs === 0)) {
    start(ctx, e.atMs);
  }
}

function start(ctx: Ctx, atMs: number): void {
  const { d } = ctx;
  const { config } = d;
  d.generation += 1;
  d.worldSize = d.workers.length;
  d.batchSizePerWorker = Math.floor(config.globalBatchSize / d.worldSize);
  if (d.batchSizePerWorker < 1) {
    return fail(ctx, COORDINATOR_ERROR_CODES.invalidOption, `the global batch of ${config.globalBatchSize} cannot be split across ${d.worldSize} workers`);
  }
  d.workers.forEach((w, rank) => {
    w.rank = rank;
    w.ready = false;
    w.lastStep = d.nextStep - 1;
  });
  d.startedAtMs = atMs;
  d.phase = 'starting';
  d.stepsPerEpoch = config.sharder.plan(d.epoch, 0, d.worldSize, d.batchSizePerWorker).steps;
  planEpoch(d);
  const planned = d.plan?.steps ?? 0;
  if (d.stepsPerEpoch === 0 || planned === 0) {
    return fail(
      ctx,
      COORDINATOR_ERROR_CODES.invalidOption,
      `${config.sharder.trainCount} training samples make no step of ${d.worldSize} workers with a per-worker batch of ${d.batchSizePerWorker}`,
    );
  }
  const ring = ranked(d).map((w) => ({ rank: w.rank ?? 0, workerId: w.workerId, address: w.peerAddress }));
  const hyper = { ...config.hyper, batchSizePerWorker: d.batchSizePerWorker };
  for (const w of ranked(d)) {
    const rank = w.rank ?? 0;
    ctx.out.push({
      kind: 'send',
      workerId: w.workerId,
      message: { v: 1, type: 'assign', generation: d.generation, rank, worldSize: d.worldSize, ring, model: config.model, hyper },
    });
    ctx.out.push({ kind: 'send-state', workerId: w.workerId, generation: d.generation, step: d.nextStep });
    shipMissing(ctx, w, 'train', d.plan?.shards[rank] ?? new Uint32Array(0));
    shipMissing(ctx, w, 'test', testShare(d, rank));
  }
  log(ctx, 'info', `generation ${d.generation} starts with ${plural(d.worldSize, 'worker')}, a per-worker batch of ${d.batchSizePerWorker}, ${plural(d.stepsPerEpoch, 'step')} per epoch`, {
    ring: ring.map((m) => m.workerId),
  });
  ctx.out.push({
    kind: 'progress',
    progress: {
      type: 'started',
      generation: d.generation,
      worldSize: d.worldSize,
      epochs: config.epochs,
      stepsPerEpoch: d.stepsPerEpoch,
      globalBatchSize: d.batchSizePerWorker * d.worldSize,
    },
  });
  waitFromNow(d, atMs);
}

/** Deals out the current epoch, from the resume position when it belongs to this epoch. */
function planEpoch(d: CoordinatorState): void {
  const offset = d.resumeFrom !== null && d.resumeFrom.epoch === d.epoch ? d.resumeFrom.offset : 0;
  d.resumeFrom = null;
  d.planOffset = offset;
  d.plan = d.config.sharder.plan(d.epoch, offset, d.worldSize, d.batchSizePerWorker);
}

function testShare(d: CoordinatorState, rank: number): Uint32Array {
  const { start, end } = contiguousShare(d.config.testCount, rank, d.worldSize);
  const indices = new Uint32Array(end - start);
  for (let i = 0; i < indices.length; i++) indices[i] = start + i;
  return indices;
}

/** Ships the images of `indices` the worker does not hold yet. */
function shipMissing(ctx: Ctx, w: WorkerRecord, split: 'train' | 'test', indices: Uint32Array): void {
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

function waitFromNow(d: CoordinatorState, atMs: number): void {
  d.waitingSinceMs = atMs;
  d.lastStallWarningAtMs = atMs;
}

// ---------------------------------------------------------------- starting

function findWorker(ctx: Ctx, workerId: string): WorkerRecord | undefined {
  return ctx.d.workers.find((w) => w.workerId === workerId);
}

/** Drops a message of an older generation; true when the message is current. */
function isCurrent(ctx: Ctx, w: WorkerRecord, generation: number, what: string, atMs: number): boolean {
  if (generation < ctx.d.generation) {
    log(ctx, 'debug', `dropped ${what} of generation ${generation} from ${describe(w)}; the ring is at generation ${ctx.d.generation}`);
    return false;
  }
  if (generation > ctx.d.generation) {
    violation(ctx, w, `${what} claims generation ${generation}, but the ring is at generation ${ctx.d.generation}`, atMs);
    return false;
  }
  return true;
}

/** A worker of the run sent a valid message that makes no sense now: close it and fail the run. */
function violation(ctx: Ctx, w: WorkerRecord, what: string, _atMs: number): void {
  const reason = `protocol violation by ${describe(w)}: ${what}`;
  ctx.out.push({ kind: 'close', workerId: w.workerId, code: CLOSE_POLICY_VIOLATION, errorCode: COORDINATOR_ERROR_CODES.protocolViolation, reason });
  ctx.d.workers = ctx.d.workers.filter((x) => x.workerId !== w.workerId);
  fail(ctx, COORDINATOR_ERROR_CODES.protocolViolation, reason);
}

function onReady(ctx: Ctx, workerId: string, generation: number, atMs: number): void {
  const { d } = ctx;
  const w = findWorker(ctx, workerId);
  if (w === undefined || !isActive(d)) return;
  if (!isCurrent(ctx, w, generation, 'ready', atMs)) return;
  if (d.phase !== 'starting' || w.ready) return violation(ctx, w, `ready arrived while the run is ${d.phase}`, atMs);
  w.ready = true;
  log(ctx, 'info', `${describe(w)} is ready`);
  if (ranked(d).every((x) => x.ready)) beginPlan(ctx, atMs);
}

// ---------------------------------------------------------------- training

function beginPlan(ctx: Ctx, atMs: number): void {
  const { d } = ctx;
  const plan = d.plan;
  if (plan === null) return;
  d.planFirstStep = d.nextStep;
  d.phase = 'training';
  d.epochTotals = { lossSum: 0, correct: 0, count: 0 };
  d.epochStartedAtMs = atMs;
  const rates = new Float32Array(plan.steps);
  for (let i = 0; i < plan.steps; i++) rates[i] = d.config.learningRate(d.planFirstStep + i, d.stepsPerEpoch);
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
          v: 1,
          type: 'plan',
          generation: d.generation,
          epoch: d.epoch,
          firstStep: d.planFirstStep + part.from,
          indices: shard.subarray(part.from * b, Math.min(shard.length, (part.from + part.steps) * b)),
          learningRates: rates.subarray(part.from, part.from + part.steps),
        },
      });
    }
  }
  log(ctx, 'info', `epoch ${d.epoch + 1} of ${d.config.epochs}: ${plural(plan.steps, 'step')} from global step ${d.planFirstStep}`);
  waitFromNow(d, atMs);
}

/** Steps of the plan, and where they start within a full epoch (for progress displays). */
function planSteps(d: CoordinatorState): number {
  return d.plan?.steps ?? 0;
}

function onStepReported(ctx: Ctx, e: StepReportedEvent): void {
  const { d } = ctx;
  const w = findWorker(ctx, e.workerId);
  if (w === undefined || !isActive(d)) return;
  const r = e.report;
  if (!isCurrent(ctx, w, r.generation, `the report of step ${r.step}`, e.atMs)) return;
  if (d.phase !== 'training') return violation(ctx, w, `reported step ${r.step} while the run is ${d.phase}`, e.atMs);
  const expected = w.lastStep + 1;
  if (r.step !== expected || r.epoch !== d.epoch || r.step >= d.planFirstStep + planSteps(d)) {
    return violation(ctx, w, `reported step ${r.step} of epoch ${r.epoch}, expected step ${expected} of epoch ${d.epoch}`, e.atMs);
  }
  w.lastStep = r.step;
  const tally: StepTally = d.tallies.get(r.step) ?? { reports: 0, lossSum: 0, correct: 0, count: 0, computeMs: 0, allReduceMs: 0, waitMs: 0, checksums: {} };
  tally.reports += 1;
  tally.lossSum += r.loss * r.count;
  tally.correct += r.correct;
  tally.count += r.count;
  tally.computeMs += r.computeMs;
  tally.allReduceMs += r.allReduceMs;
  tally.waitMs += r.waitMs;
  if (r.weightChecksum !== '') tally.checksums[w.rank ?? 0] = r.weightChecksum;
  d.tallies.set(r.step, tally);
  if (tally.reports < d.worldSize) return;

  d.tallies.delete(r.step);
  d.nextStep = r.step + 1;
  compareChecksums(ctx, r.step, tally);
  if (!isActive(d)) return;
  d.epochTotals.lossSum += tally.lossSum;
  d.epochTotals.correct += tally.correct;
  d.epochTotals.count += tally.count;
  d.examples += tally.count;
  d.timeSums.computeMs += tally.computeMs;
  d.timeSums.allReduceMs += tally.allReduceMs;
  d.timeSums.waitMs += tally.waitMs;
  d.timeSums.reports += tally.reports;
  const elapsedMs = Math.max(1, e.atMs - d.epochStartedAtMs);
  const progress: StepProgress = {
    type: 'step',
    epoch: d.epoch,
    step: r.step,
    stepInEpoch: d.stepsPerEpoch - planSteps(d) + (r.step - d.planFirstStep) + 1,
    stepsPerEpoch: d.stepsPerEpoch,
    loss: tally.lossSum / Math.max(1, tally.count),
    accuracy: tally.correct / Math.max(1, tally.count),
    epochLoss: d.epochTotals.lossSum / Math.max(1, d.epochTotals.count),
    epochAccuracy: d.epochTotals.correct / Math.max(1, d.epochTotals.count),
    examplesPerSecond: (d.epochTotals.count * 1000) / elapsedMs,
    computeMs: tally.computeMs / tally.reports,
    allReduceMs: tally.allReduceMs / tally.reports,
    waitMs: tally.waitMs / tally.reports,
  };
  ctx.out.push({ kind: 'progress', progress });
  waitFromNow(d, e.atMs);
  if (d.nextStep === d.planFirstStep + planSteps(d)) {
    d.trainingMs += e.atMs - d.epochStartedAtMs;
    beginEvaluation(ctx, e.atMs);
  }
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

// ---------------------------------------------------------------- evaluating

function beginEvaluation(ctx: Ctx, atMs: number): void {
  const { d } = ctx;
  if (d.config.testCount === 0) return endEpoch(ctx, atMs);
  d.phase = 'evaluating';
  d.evalTotals = { lossSum: 0, correct: 0, count: 0 };
  for (const w of ranked(d)) {
    w.evaluated = false;
    const indices = testShare(d, w.rank ?? 0);
    shipMissing(ctx, w, 'test', indices);
    ctx.out.push({ kind: 'send', workerId: w.workerId, message: { v: 1, type: 'evaluate', generation: d.generation, epoch: d.epoch, indices } });
  }
  waitFromNow(d, atMs);
}

function onEvaluation(ctx: Ctx, e: EvaluationReportedEvent): void {
  const { d } = ctx;
  const w = findWorker(ctx, e.workerId);
  if (w === undefined || !isActive(d)) return;
  const r = e.evaluation;
  if (!isCurrent(ctx, w, r.generation, `the evaluation of epoch ${r.epoch}`, e.atMs)) return;
  if (d.phase !== 'evaluating' || w.evaluated || r.epoch !== d.epoch) {
    return violation(ctx, w, `sent an evaluation of epoch ${r.epoch} while the run is ${d.phase} in epoch ${d.epoch}`, e.atMs);
  }
  const { start, end } = contiguousShare(d.config.testCount, w.rank ?? 0, d.worldSize);
  if (r.count !== end - start) {
    return violation(ctx, w, `evaluated ${r.count} examples, but its share of the test set is ${end - start}`, e.atMs);
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
    trainLoss: t.lossSum / Math.max(1, t.count),
    trainAccuracy: t.correct / Math.max(1, t.count),
    testLoss: ev.count > 0 ? ev.lossSum / ev.count : Number.NaN,
    testAccuracy: ev.count > 0 ? ev.correct / ev.count : Number.NaN,
    examples: t.count,
    trainingMs,
    examplesPerSecond: (t.count * 1000) / Math.max(1, trainingMs),
  };
  d.history.push(summary);
  ctx.out.push({ kind: 'progress', progress: summary });
  log(
    ctx,
    'info',
    `epoch ${d.epoch + 1} of ${d.config.epochs}: train loss ${summary.trainLoss.toFixed(4)}, train accuracy ${summary.trainAccuracy.toFixed(4)}, ` +
      `test accuracy ${summary.testAccuracy.toFixed(4)}, ${summary.examplesPerSecond.toFixed(1)} examples/s`,
  );
  if (d.config.checkpointEveryEpochs > 0 && (d.epoch + 1) % d.config.checkpointEveryEpochs === 0) {
    d.phase = 'checkpointing';
    requestState(ctx, 'epoch', atMs);
    return;
  }
  advance(ctx, atMs);
}

function advance(ctx: Ctx, atMs: number): void {
  const { d } = ctx;
  if (d.epoch + 1 < d.config.epochs) {
    d.epoch += 1;
    planEpoch(d);
    beginPlan(ctx, atMs);
    return;
  }
  finish(ctx, atMs);
}

// ---------------------------------------------------------------- checkpoints

function requestState(ctx: Ctx, reason: 'epoch' | 'on-demand', atMs: number): void {
  const { d } = ctx;
  const rank0 = ranked(d)[0];
  if (rank0 === undefined) return;
  d.pendingCheckpoint = reason;
  ctx.out.push({ kind: 'send', workerId: rank0.workerId, message: { v: 1, type: 'state-request', generation: d.generation, step: d.nextStep } });
  if (reason === 'epoch') waitFromNow(d, atMs);
}

function onCheckpointRequested(ctx: Ctx): void {
  const { d } = ctx;
  if (d.config.checkpointEveryEpochs === 0) return log(ctx, 'warn', 'a checkpoint was asked for, but this run has no checkpoint directory');
  if (d.phase !== 'training' || d.pendingCheckpoint !== null) {
    return log(ctx, 'info', `a checkpoint was asked for while the run is ${d.phase}${d.pendingCheckpoint === null ? '' : ' and one is being taken'}; skipped`);
  }
  log(ctx, 'info', `taking a checkpoint on demand at step ${d.nextStep}`);
  requestState(ctx, 'on-demand', 0);
}

function onState(ctx: Ctx, e: StateReportedEvent): void {
  const { d } = ctx;
  const w = findWorker(ctx, e.workerId);
  if (w === undefined || !isActive(d)) return;
  if (!isCurrent(ctx, w, e.generation, 'a state', e.atMs)) return;
  if (d.pendingCheckpoint === null || w.rank !== 0) return violation(ctx, w, 'sent its state unasked', e.atMs);
  const reason = d.pendingCheckpoint;
  d.pendingCheckpoint = null;
  if (reason === 'epoch') {
    if (e.step !== d.nextStep) return violation(ctx, w, `sent the state of step ${e.step} at the end of an epoch that ends at step ${d.nextStep}`, e.atMs);
    ctx.out.push({ kind: 'write-checkpoint', reason, step: e.step, position: { epoch: d.epoch + 1, offset: 0 }, bytes: e.bytes });
    advance(ctx, e.atMs);
    return;
  }
  const done = e.step - d.planFirstStep;
  const steps = planSteps(d);
  if (d.phase !== 'training' || d.plan === null || done < 0 || done > steps) {
    return log(ctx, 'warn', `dropped an on-demand state of step ${e.step}: the run is ${d.phase} with steps ${d.planFirstStep}..${d.planFirstStep + steps}`);
  }
  const position = done === steps ? { epoch: d.epoch + 1, offset: 0 } : { epoch: d.epoch, offset: d.plan.offsetAfter(done) };
  ctx.out.push({ kind: 'write-checkpoint', reason, step: e.step, position, bytes: e.bytes });
}

// ---------------------------------------------------------------- membership and time

function onLeft(ctx: Ctx, workerId: string, reason: string, errorCode: string | undefined, atMs: number): void {
  const { d } = ctx;
  const w = findWorker(ctx, workerId);
  if (w === undefined) return;
  d.workers = d.workers.filter((x) => x.workerId !== workerId);
  if (!isActive(d)) return log(ctx, 'debug', `${describe(w)} disconnected after the run ended`);
  if (d.phase === 'rendezvous') {
    if (d.workers.length < d.config.minWorkers) d.minReachedAtMs = null;
    log(ctx, 'warn', `${describe(w)} left during the rendezvous: ${reason}`);
    ctx.out.push({ kind: 'progress', progress: { type: 'rendezvous', joined: d.workers.length, minWorkers: d.config.minWorkers, maxWorkers: d.config.maxWorkers } });
    return;
  }
  const where = d.phase === 'training' ? `during epoch ${d.epoch + 1} at step ${d.nextStep}` : `while the run was ${d.phase}`;
  const code = errorCode === undefined ? COORDINATOR_ERROR_CODES.workerLost : COORDINATOR_ERROR_CODES.workerFailed;
  const cause = errorCode === undefined ? reason : `${reason} (${errorCode})`;
  fail(ctx, code, `${describe(w)} left ${where}: ${cause}. Recovery after losing a worker is not supported yet, so the run stops`);
  void atMs;
}

function onTick(ctx: Ctx, atMs: number): void {
  const { d, config } = { d: ctx.d, config: ctx.d.config };
  if (d.phase === 'rendezvous') {
    if (d.minReachedAtMs !== null && atMs - d.minReachedAtMs >= config.rendezvousSettleMs) return start(ctx, atMs);
    if (d.workers.length < config.minWorkers && atMs - d.rendezvousOpenedAtMs >= config.rendezvousTimeoutMs) {
      fail(
        ctx,
        COORDINATOR_ERROR_CODES.rendezvousTimeout,
        `only ${d.workers.length} of the ${config.minWorkers} workers needed joined within ${Math.round(config.rendezvousTimeoutMs / 1000)} s`,
      );
    }
    return;
  }
  if (!isActive(d)) return;
  const pending = pendingRanks(d);
  if (pending.workers.length === 0) return;
  const waitedMs = atMs - d.waitingSinceMs;
  const names = namesOf(pending.workers);
  if (config.stallTimeoutMs > 0 && waitedMs >= config.stallTimeoutMs) {
    return fail(ctx, COORDINATOR_ERROR_CODES.stalled, `stalled for ${Math.round(waitedMs / 1000)} s waiting for ${pending.what} from ${names}`);
  }
  if (waitedMs >= config.stallWarningMs && atMs - d.lastStallWarningAtMs >= config.stallWarningMs) {
    d.lastStallWarningAtMs = atMs;
    log(ctx, 'warn', `stalled for ${Math.round(waitedMs / 1000)} s waiting for ${pending.what} from ${names}`, {
      ranks: pending.workers.map((w) => w.rank),
    });
  }
}

/** The ranks the machine is waiting for now, and for what (the stall inspector's view). */
export function pendingRanks(d: CoordinatorState): { what: string; workers: WorkerRecord[] } {
  const workers = ranked(d);
  switch (d.phase) {
    case 'starting':
      return { what: `ready of generation ${d.generation}`, workers: workers.filter((w) => !w.ready) };
    case 'training':
      return { what: `step ${d.nextStep}`, workers: workers.filter((w) => w.lastStep < d.nextStep) };
    case 'evaluating':
      return { what: `the evaluation of epoch ${d.epoch + 1}`, workers: workers.filter((w) => !w.evaluated) };
    case 'checkpointing':
      return { what: 'the state for a checkpoint', workers: workers.filter((w) => w.rank === 0) };
    default:
      return { what: 'nothing', workers: [] };
  }
}

// ---------------------------------------------------------------- the end

function stopAll(ctx: Ctx, reason: string): void {
  for (const w of ctx.d.workers) ctx.out.push({ kind: 'send', workerId: w.workerId, message: { v: 1, type: 'stop', reason } });
}

function finish(ctx: Ctx, atMs: number): void {
  const { d } = ctx;
  d.phase = 'finished';
  stopAll(ctx, 'training finished');
  const last = d.history[d.history.length - 1];
  const reports = Math.max(1, d.timeSums.reports);
  const result: RunResult = {
    epochs: d.history,
    testAccuracy: last?.testAccuracy ?? Number.NaN,
    testLoss: last?.testLoss ?? Number.NaN,
    trainAccuracy: last?.trainAccuracy ?? Number.NaN,
    trainLoss: last?.trainLoss ?? Number.NaN,
    examplesPerSecond: (d.examples * 1000) / Math.max(1, d.trainingMs),
    trainingSeconds: d.trainingMs / 1000,
    wallSeconds: (atMs - (d.startedAtMs ?? atMs)) / 1000,
    workers: d.worldSize,
    globalBatchSize: d.batchSizePerWorker * d.worldSize,
    steps: d.nextStep,
    checksumsAgreed: d.checksumsAgreed,
    meanComputeMs: d.timeSums.computeMs / reports,
    meanAllReduceMs: d.timeSums.allReduceMs / reports,
    meanWaitMs: d.timeSums.waitMs / reports,
  };
  log(ctx, 'info', `training finished after ${d.nextStep} steps: test accuracy ${result.testAccuracy.toFixed(4)}`);
  ctx.out.push({ kind: 'finished', result });
}

function fail(ctx: Ctx, code: CoordinatorErrorCode, message: string): void {
  const { d } = ctx;
  if (!isActive(d)) return;
  d.phase = 'failed';
  log(ctx, 'error', message, { code });
  stopAll(ctx, message);
  ctx.out.push({ kind: 'failed', code, message });
}

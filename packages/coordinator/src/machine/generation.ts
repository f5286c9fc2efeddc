/**
 * How a generation forms, and how training goes on across one (messages.ts, B–D).
 *
 *   open     the members are the current ranks in rank order, then the workers waiting to
 *            enter, in join order; with `ringOrder` 'hosts' each host group's members are then
 *            put side by side (ring-order.ts). Each gets `assign`; the per-worker batch follows
 *            the `batchScaling` rule. Fewer than `minWorkers`: the run waits instead.
 *   replica  every member says what its replica holds. The starting step S is the most advanced
 *            replica's, or the held state's (initial weights, checkpoint, last relay) when that is
 *            newer or no member has one.
 *   sync     steps from the last one every rank reported up to S were finished by a survivor:
 *            they are committed now (the step commit rule). A step in flight that no survivor
 *            finished is discarded. What is left of the epoch from S is dealt out over the new
 *            world. Members at S keep their replica; the others get S's state, relayed from the
 *            most advanced member or sent from the held state.
 *   ready    every member is at S with its ring up; their weight checksums must agree. Training,
 *            evaluation or the checkpoint goes on where the epoch stands.
 */
import { PROTOCOL_VERSION } from '@ringtrain/protocol';
import { COORDINATOR_ERROR_CODES } from '../errors.ts';
import { describe, fail, findWorker, isActive, isCurrent, log, plural, ranked, violation, waitFromNow, type Ctx } from './context.ts';
import type { ReplicaReportedEvent, StateReportedEvent, WorkerReadyEvent } from './events.ts';
import { beginEvaluation, checkpointDue, requestState, advance, shipMissing, testShare } from './epoch.ts';
import type { SamplerPosition } from './sharder.ts';
import type { GenerationCause, WorkerRecord } from './state.ts';
import { groupedByHost, hostCrossings } from './ring-order.ts';
import { beginPlan, commitStep } from './training.ts';

/** Opens generation g+1 with the connected workers, or waits for more when too few are left. */
export function openGeneration(ctx: Ctx, atMs: number, cause: GenerationCause): void {
  const { d } = ctx;
  const { config } = d;
  if (!isActive(d)) return;
  if (cause !== 'start' && cause !== 'worker-joined') d.recovery.lostAtMs ??= atMs;
  // With a fixed global batch, a world larger than the batch would leave ranks without a sample: those wait.
  const room = config.batchScaling === 'fixed-global' ? Math.min(config.maxWorkers, config.globalBatchSize) : config.maxWorkers;
  const joined = [...ranked(d), ...d.workers.filter((w) => w.rank === null).sort((a, b) => a.joinedAtMs - b.joinedAtMs)].slice(0, room);
  const members = config.ringOrder === 'hosts' ? groupedByHost(joined, (w) => w.hostGroup) : joined;
  for (const w of d.workers) {
    w.rank = null;
    w.replica = null;
    w.ready = false;
  }
  d.pendingState = null;
  if (members.length < config.minWorkers) return enterWaiting(ctx, atMs, members.length);
  if (cause !== 'start') {
    d.regroupsWithoutProgress += 1;
    if (d.regroupsWithoutProgress > config.maxRegroupsWithoutProgress) {
      return fail(
        ctx,
        COORDINATOR_ERROR_CODES.workerLost,
        `${plural(d.regroupsWithoutProgress - 1, 'generation')} in a row formed without committing a step (maxRegroupsWithoutProgress ${config.maxRegroupsWithoutProgress}); the last was opened because of ${cause}`,
      );
    }
  }
  const worldSize = members.length;
  const reference = (d.reference ??= { batchSizePerWorker: Math.floor(config.globalBatchSize / worldSize), worldSize });
  const batch = config.batchScaling === 'fixed-per-worker' ? reference.batchSizePerWorker : Math.floor(config.globalBatchSize / worldSize);
  if (batch < 1) {
    return fail(ctx, COORDINATOR_ERROR_CODES.invalidOption, `the global batch of ${config.globalBatchSize} cannot be split across ${worldSize} workers`);
  }
  const stepsPerEpoch = config.sharder.plan(d.epoch, 0, worldSize, batch).steps;
  if (stepsPerEpoch === 0) {
    return fail(ctx, COORDINATOR_ERROR_CODES.invalidOption, `${config.sharder.trainCount} training samples make no step of ${worldSize} workers with a per-worker batch of ${batch}`);
  }
  d.generation = Math.max(d.generation, d.generationFloor) + 1;
  d.worldSize = worldSize;
  d.batchSizePerWorker = batch;
  d.stepsPerEpoch = stepsPerEpoch;
  d.belowMinimumSinceMs = null;
  d.phase = 'starting';
  d.startedAtMs ??= atMs;
  members.forEach((w, rank) => {
    w.rank = rank;
    w.readyChecksum = '';
    w.evaluated = false;
  });
  const ring = members.map((w) => ({ rank: w.rank ?? 0, workerId: w.workerId, address: w.peerAddress }));
  const hyper = { ...config.hyper, batchSizePerWorker: batch };
  for (const w of members) {
    ctx.out.push({
      kind: 'send',
      workerId: w.workerId,
      message: { v: PROTOCOL_VERSION, type: 'assign', generation: d.generation, rank: w.rank ?? 0, worldSize, ring, model: config.model, hyper },
    });
  }
  d.generations.push({ generation: d.generation, cause, openedAtMs: atMs, readyAtMs: null, worldSize, globalBatchSize: batch * worldSize, step: d.nextStep, workerIds: members.map((w) => w.workerId) });
  const scaling =
    config.batchScaling === 'fixed-per-worker'
      ? `per-worker batch kept at ${batch}, global batch ${batch * worldSize}`
      : batch * worldSize === config.globalBatchSize
        ? `global batch kept at ${config.globalBatchSize}`
        : `global batch ${batch * worldSize}, as ${config.globalBatchSize} does not split over ${worldSize}: ${config.globalBatchSize - batch * worldSize} fewer per step, and every sample of the epoch still trains, in more steps`;
  const hosts = new Set(members.map((w) => w.hostGroup)).size;
  const crossings = hostCrossings(members, (w) => w.hostGroup);
  const layout = hosts === 1 ? '' : `; the ring spans ${plural(hosts, 'host group')} and crosses between them ${plural(crossings, 'time')}`;
  log(ctx, 'info', `generation ${d.generation} opens with ${plural(worldSize, 'worker')} (${cause}): a per-worker batch of ${batch} (${scaling}), ${plural(stepsPerEpoch, 'step')} per epoch${layout}`, {
    ring: ring.map((m) => m.workerId),
    hostGroups: members.map((w) => w.hostGroup),
    hostCrossings: crossings,
    cause,
  });
  ctx.out.push({
    kind: 'progress',
    progress: { type: 'started', generation: d.generation, worldSize, epochs: config.epochs, stepsPerEpoch, globalBatchSize: batch * worldSize, cause, step: d.nextStep },
  });
  waitFromNow(d, atMs);
}

/** Too few workers after the start: training pauses until replacements join or `minWorkersWaitMs` passes. */
function enterWaiting(ctx: Ctx, atMs: number, workers: number): void {
  const { d } = ctx;
  if (d.phase === 'rendezvous') return;
  d.phase = 'waiting';
  d.belowMinimumSinceMs ??= atMs;
  log(ctx, 'warn', `${plural(workers, 'worker')} left, ${d.config.minWorkers} needed: waiting up to ${Math.round(d.config.minWorkersWaitMs / 1000)} s for replacements`);
  waitFromNow(d, atMs);
}

export function onReplica(ctx: Ctx, e: ReplicaReportedEvent): void {
  const { d } = ctx;
  const w = findWorker(ctx, e.workerId);
  if (w === undefined || !isActive(d)) return;
  if (!isCurrent(ctx, w, e.generation, 'a replica report')) return;
  if (d.phase !== 'starting' || w.replica !== null) return violation(ctx, w, `reported its replica while the run is ${d.phase}`);
  w.replica = { stepsDone: e.stepsDone, abortedStep: e.abortedStep, position: e.position };
  if (ranked(d).every((x) => x.replica !== null)) sync(ctx, e.atMs);
}

/** The position in the epoch's order after `step` global steps, when the machine can tell it. */
function positionAt(ctx: Ctx, step: number): SamplerPosition | null {
  const { d } = ctx;
  if (d.plan !== null && step >= d.planFirstStep && step - d.planFirstStep <= d.plan.steps) {
    return { epoch: d.epoch, offset: d.plan.offsetAfter(step - d.planFirstStep) };
  }
  if (step === d.held.step) return d.held.position;
  return null;
}

function sync(ctx: Ctx, atMs: number): void {
  const { d } = ctx;
  const members = ranked(d);
  const best = members.reduce<WorkerRecord | null>((top, w) => ((w.replica?.stepsDone ?? -1) > (top?.replica?.stepsDone ?? -1) ? w : top), null);
  const bestStep = best?.replica?.stepsDone ?? -1;
  const source = bestStep >= 0 && bestStep >= d.held.step ? best : null;
  const start = source === null ? d.held.step : bestStep;
  // A coordinator restarted with --resume learns where the workers' replicas stand from them.
  const position = positionAt(ctx, start) ?? (source?.replica?.position ?? null);
  if (position === null) {
    return fail(ctx, COORDINATOR_ERROR_CODES.protocolViolation, `${describe(source as WorkerRecord)} holds a replica of step ${start}, which this run never reached`);
  }
  if (start < d.nextStep) {
    const back = source === null ? `the held state of step ${start}` : `${describe(source)}'s replica of step ${start}`;
    const again = d.nextStep - start === 1 ? `step ${start} is` : `steps ${start}..${d.nextStep - 1} are`;
    log(ctx, 'warn', `no member holds a replica of step ${d.nextStep}: generation ${d.generation} goes back to ${back}; ${again} trained again`);
    ctx.out.push({ kind: 'steps-undone', fromStep: start });
    d.history = d.history.filter((h) => h.epoch < position.epoch);
    d.epochTotals = { lossSum: 0, correct: 0, count: 0 };
    d.epochOpen = false;
  }
  // Steps a survivor finished count: every rank's gradient is in them (the step commit rule).
  for (let s = d.nextStep; s < start; s++) commitStep(ctx, s, atMs, 'survivor');
  if (members.some((w) => (w.replica?.abortedStep ?? -1) >= start)) {
    d.recovery.stepsDiscarded += 1;
    log(ctx, 'info', `step ${start} was cut short before any member finished it: discarded, its samples are dealt out again`);
  }
  d.nextStep = start;
  d.tallies = new Map();
  if (position.epoch !== d.epoch) {
    d.epoch = position.epoch;
    d.epochEvaluated = false;
    d.epochCheckpointed = false;
    d.epochOpen = false;
    d.epochTotals = { lossSum: 0, correct: 0, count: 0 };
  }
  d.planOffset = position.offset;
  d.planFirstStep = start;
  d.plan = d.config.sharder.plan(position.epoch, position.offset, d.worldSize, d.batchSizePerWorker);
  d.planBatchSize = d.batchSizePerWorker;
  for (const w of members) {
    w.lastStep = start - 1;
    w.contributedStep = start - 1;
  }
  const generations = d.generations[d.generations.length - 1];
  if (generations !== undefined) generations.step = start;

  const laggards = members.filter((w) => w.replica?.stepsDone !== start || source === null);
  if (source !== null && laggards.length > 0) {
    // Asked before anyone is told to sync, so the source answers before it waits on its ring.
    d.pendingState = { reason: 'relay', workerId: source.workerId };
    ctx.out.push({ kind: 'send', workerId: source.workerId, message: { v: PROTOCOL_VERSION, type: 'state-request', generation: d.generation, step: start } });
  }
  for (const w of members) {
    const replica = w.replica ?? { stepsDone: -1, abortedStep: -1, position: null };
    const keep = source !== null && replica.stepsDone === start;
    const finishedByPeers = source !== null && replica.stepsDone >= 0 && replica.abortedStep === replica.stepsDone && start > replica.stepsDone ? 1 : 0;
    ctx.out.push({
      kind: 'send',
      workerId: w.workerId,
      message: { v: PROTOCOL_VERSION, type: 'sync', generation: d.generation, step: start, keep, epoch: position.epoch, offset: position.offset, finishedByPeers },
    });
    if (!keep && source === null) ctx.out.push({ kind: 'send-state', workerId: w.workerId, generation: d.generation, step: start });
    shipMissing(ctx, w, 'train', d.plan.shards[w.rank ?? 0] ?? new Uint32Array(0));
    shipMissing(ctx, w, 'test', testShare(d, w.rank ?? 0));
  }
  const from = source === null ? `the held state of step ${start}` : `${describe(source)}'s replica of step ${start}`;
  const who = laggards.length === 0 ? 'every member holds it already' : `${plural(laggards.length, 'member')} ${laggards.length === 1 ? 'gets' : 'get'} that state`;
  log(ctx, 'info', `generation ${d.generation} starts from ${from}; ${who}`);
  waitFromNow(d, atMs);
}

/** The relayed state of the generation's starting step: held from now on, and sent to the members that lag. */
export function onRelayedState(ctx: Ctx, e: StateReportedEvent, w: WorkerRecord): void {
  const { d } = ctx;
  d.pendingState = null;
  if (e.step !== d.nextStep) return violation(ctx, w, `sent the state of step ${e.step} when asked for step ${d.nextStep}`);
  ctx.out.push({ kind: 'hold-state', step: e.step, bytes: e.bytes });
  d.held = { step: e.step, position: { epoch: d.epoch, offset: d.planOffset } };
  for (const m of ranked(d)) {
    if (m.replica?.stepsDone !== e.step) ctx.out.push({ kind: 'send-state', workerId: m.workerId, generation: d.generation, step: e.step });
  }
}

export function onReady(ctx: Ctx, e: WorkerReadyEvent): void {
  const { d } = ctx;
  const w = findWorker(ctx, e.workerId);
  if (w === undefined || !isActive(d)) return;
  if (!isCurrent(ctx, w, e.generation, 'ready')) return;
  const synced = ranked(d).every((x) => x.replica !== null);
  if (d.phase !== 'starting' || !synced || w.ready) return violation(ctx, w, `ready arrived while the run is ${d.phase}${synced ? '' : ' and the generation has not synced'}`);
  if (e.step !== d.nextStep) return violation(ctx, w, `is ready at step ${e.step}, but generation ${d.generation} starts at step ${d.nextStep}`);
  w.ready = true;
  w.readyChecksum = e.weightChecksum;
  log(ctx, 'info', `${describe(w)} is ready`);
  if (!ranked(d).every((x) => x.ready)) return;

  const groups = new Map<string, number[]>();
  for (const m of ranked(d)) groups.set(m.readyChecksum, [...(groups.get(m.readyChecksum) ?? []), m.rank ?? 0]);
  if (groups.size > 1) {
    const parts = [...groups].map(([sum, ranks]) => `${ranks.length === 1 ? 'rank' : 'ranks'} ${ranks.join(', ')} ${ranks.length === 1 ? 'has' : 'have'} ${sum}`);
    return fail(ctx, COORDINATOR_ERROR_CODES.divergence, `the replicas of generation ${d.generation} differ at its start (step ${d.nextStep}): ${parts.join('; ')}`);
  }
  const record = d.generations[d.generations.length - 1];
  if (record !== undefined) record.readyAtMs = e.atMs;
  if (d.recovery.lostAtMs !== null) {
    d.recovery.lostMs += e.atMs - d.recovery.lostAtMs;
    d.recovery.recoveries += 1;
    log(ctx, 'info', `recovered: training goes on ${((e.atMs - d.recovery.lostAtMs) / 1000).toFixed(1)} s after the membership changed`);
    d.recovery.lostAtMs = null;
  }
  goOn(ctx, e.atMs);
}

/** With a generation ready, the epoch goes on where it stands: its steps, its evaluation, its checkpoint, or the next epoch. */
function goOn(ctx: Ctx, atMs: number): void {
  const { d } = ctx;
  if ((d.plan?.steps ?? 0) > 0) return beginPlan(ctx, atMs);
  if (!d.epochEvaluated) return beginEvaluation(ctx, atMs);
  if (checkpointDue(d) && !d.epochCheckpointed) {
    d.phase = 'checkpointing';
    return requestState(ctx, 'epoch', atMs);
  }
  advance(ctx, atMs);
}

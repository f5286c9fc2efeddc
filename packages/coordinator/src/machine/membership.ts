/**
 * Who is in the run: workers joining (at the rendezvous, or later to enter the next generation),
 * leaving (closed, cut for silence, or evicted as stragglers), and the time-driven rules around
 * them. Every change of members after the start opens a new generation (generation.ts); none
 * of them fails the run unless the world stays below `minWorkers` for `minWorkersWaitMs`.
 */
import { CLOSE_CODES, PROTOCOL_VERSION } from '@ringtrain/protocol';
import { COORDINATOR_ERROR_CODES } from '../errors.ts';
import { describe, fail, findWorker, isActive, log, namesOf, plural, ranked, type Ctx } from './context.ts';
import type { RingFailedEvent, WorkerJoinedEvent, WorkerLeftEvent } from './events.ts';
import { openGeneration } from './generation.ts';
import type { CoordinatorState, WorkerRecord } from './state.ts';

/** Phases in which a generation runs and a newcomer may be let in at once. */
const RUNNING = new Set(['training', 'evaluating', 'checkpointing']);

export function onJoined(ctx: Ctx, e: WorkerJoinedEvent): void {
  const { d } = ctx;
  const refuse = (reason: string, errorCode: string = COORDINATOR_ERROR_CODES.joinRefused): void => {
    ctx.out.push({ kind: 'refuse', connectionId: e.connectionId, code: CLOSE_CODES.policyViolation, errorCode, reason });
    log(ctx, 'warn', `refused worker ${e.workerId} from ${e.hostname} pid ${e.pid}: ${reason}`);
  };
  if (!isActive(d)) return refuse('the run is over', COORDINATOR_ERROR_CODES.runOver);
  if (d.workers.some((w) => w.workerId === e.workerId)) {
    return refuse(`worker id ${e.workerId} is already taken by a connected worker`);
  }
  if (d.workers.length >= d.config.maxWorkers) return refuse(`the ring is full (${d.config.maxWorkers} workers at most)`);
  // A worker that outlived its coordinator: this one's next generation comes after the ones it was in.
  d.generationFloor = Math.max(d.generationFloor, e.generation);

  d.workers.push({
    workerId: e.workerId,
    hostname: e.hostname,
    pid: e.pid,
    backend: e.backend,
    peerAddress: e.peerAddress,
    hostGroup: e.hostGroup ?? e.peerAddress.host,
    joinedAtMs: e.atMs,
    rank: null,
    replica: null,
    ready: false,
    readyChecksum: '',
    lastHeardAtMs: e.atMs,
    lastStep: d.nextStep - 1,
    contributedStep: d.nextStep - 1,
    evaluated: false,
    sentTrain: null,
    sentTest: null,
  });
  ctx.out.push({ kind: 'send', workerId: e.workerId, message: { v: PROTOCOL_VERSION, type: 'welcome', workerId: e.workerId, heartbeatIntervalMs: ctx.d.config.heartbeatIntervalMs } });
  if (d.phase !== 'rendezvous') {
    d.lastJoinAtMs = e.atMs;
    log(ctx, 'info', `worker ${e.workerId} joined from ${e.hostname} pid ${e.pid} (backend ${e.backend}) while the run is ${d.phase}; it enters the next generation`, {
      workerId: e.workerId,
      peerAddress: e.peerAddress,
    });
    admitJoiners(ctx, e.atMs);
    return;
  }
  log(ctx, 'info', `worker ${e.workerId} joined from ${e.hostname} pid ${e.pid} (backend ${e.backend}); ${d.workers.length} joined, ${d.config.minWorkers} needed to start`, {
    workerId: e.workerId,
    peerAddress: e.peerAddress,
  });
  ctx.out.push({ kind: 'progress', progress: { type: 'rendezvous', joined: d.workers.length, minWorkers: d.config.minWorkers, maxWorkers: d.config.maxWorkers } });
  if (d.workers.length === d.config.minWorkers) d.minReachedAtMs = e.atMs;
  if (d.workers.length >= d.config.maxWorkers || (d.workers.length >= d.config.minWorkers && d.config.rendezvousSettleMs === 0)) {
    openGeneration(ctx, e.atMs, 'start');
  }
}

/**
 * Lets the workers waiting to enter into a new generation. A run stalled below `minWorkers`
 * goes on as soon as enough are there; a running one lets newcomers in once joins have settled
 * for `rendezvousSettleMs` (at once when the world would be full), so that a burst of joins, as
 * when a StatefulSet scales up, costs one regroup, not one each.
 */
export function admitJoiners(ctx: Ctx, atMs: number): void {
  const { d } = ctx;
  const waiting = d.workers.filter((w) => w.rank === null);
  if (waiting.length === 0) return;
  if (d.phase === 'waiting') {
    if (d.workers.length >= d.config.minWorkers) openGeneration(ctx, atMs, 'worker-joined');
    return;
  }
  const full = d.workers.length >= d.config.maxWorkers;
  const settled = atMs - d.lastJoinAtMs >= d.config.rendezvousSettleMs;
  if (RUNNING.has(d.phase) && (full || settled)) openGeneration(ctx, atMs, 'worker-joined');
}

export function onLeft(ctx: Ctx, e: WorkerLeftEvent): void {
  const { d } = ctx;
  const w = findWorker(ctx, e.workerId);
  if (w === undefined) return;
  d.workers = d.workers.filter((x) => x.workerId !== e.workerId);
  if (!isActive(d)) return log(ctx, 'debug', `${describe(w)} disconnected after the run ended`);
  if (d.phase === 'rendezvous') {
    if (d.workers.length < d.config.minWorkers) d.minReachedAtMs = null;
    log(ctx, 'warn', `${describe(w)} left during the rendezvous: ${e.reason}`);
    ctx.out.push({ kind: 'progress', progress: { type: 'rendezvous', joined: d.workers.length, minWorkers: d.config.minWorkers, maxWorkers: d.config.maxWorkers } });
    return;
  }
  const cause = e.errorCode === undefined ? e.reason : `${e.reason} (${e.errorCode})`;
  if (w.rank === null) return log(ctx, 'info', `${describe(w)}, which waited to enter the run, left: ${cause}`);
  const where = d.phase === 'training' ? `during epoch ${d.epoch + 1} at step ${d.nextStep}` : `while the run was ${d.phase}`;
  log(ctx, 'warn', `${describe(w)} left ${where} (generation ${d.generation}): ${cause}`, { code: e.errorCode ?? COORDINATOR_ERROR_CODES.workerLost });
  openGeneration(ctx, e.atMs, 'worker-lost');
}

/** A member's ring broke without its coordinator connection going: form the ring again. */
export function onRingFailed(ctx: Ctx, e: RingFailedEvent): void {
  const { d } = ctx;
  const w = findWorker(ctx, e.workerId);
  if (w === undefined || !isActive(d) || w.rank === null) return;
  // While a generation forms, only a ring that failed after the sync counts: before it, no ring is being formed.
  const synced = ranked(d).every((x) => x.replica !== null);
  if (e.generation !== d.generation || d.phase === 'waiting' || (d.phase === 'starting' && !synced)) return;
  log(ctx, 'warn', `${describe(w)}: its ring of generation ${d.generation} failed at step ${e.step}: ${e.message} (${e.code})`);
  openGeneration(ctx, e.atMs, 'ring-failed');
}

/**
 * The ranks the machine waits for now, and for what (the stall inspector's view). In training,
 * the ranks the ring waits on: those that have not entered the all-reduce of the next step, or,
 * when all have, those that went silent.
 */
export function pendingRanks(d: CoordinatorState, atMs = d.waitingSinceMs): { what: string; workers: WorkerRecord[] } {
  const workers = ranked(d);
  switch (d.phase) {
    case 'starting': {
      const replicas = workers.filter((w) => w.replica === null);
      if (replicas.length > 0) return { what: `the replica report of generation ${d.generation}`, workers: replicas };
      return { what: `ready of generation ${d.generation}`, workers: workers.filter((w) => !w.ready) };
    }
    case 'training': {
      const unreported = workers.filter((w) => w.lastStep < d.nextStep);
      if (unreported.length === 0) return { what: `step ${d.nextStep}`, workers: [] };
      const computing = unreported.filter((w) => w.contributedStep < d.nextStep);
      if (computing.length > 0 && computing.length < workers.length) return { what: `the gradient of step ${d.nextStep}`, workers: computing };
      const silent = unreported.filter((w) => atMs - w.lastHeardAtMs >= d.config.silentAfterMs);
      if (silent.length > 0) return { what: `step ${d.nextStep} (silent for ${Math.round(d.config.silentAfterMs / 1000)} s or more)`, workers: silent };
      return { what: `step ${d.nextStep}`, workers: computing.length > 0 ? computing : unreported };
    }
    case 'evaluating':
      return { what: `the evaluation of epoch ${d.epoch + 1}`, workers: workers.filter((w) => !w.evaluated) };
    case 'checkpointing':
      return { what: 'the state for a checkpoint', workers: workers.filter((w) => w.workerId === d.pendingState?.workerId) };
    default:
      return { what: 'nothing', workers: [] };
  }
}

export function onTick(ctx: Ctx, atMs: number, lastHeardAtMs: Record<string, number> | undefined): void {
  const { d } = ctx;
  const { config } = d;
  if (lastHeardAtMs !== undefined) {
    for (const w of d.workers) w.lastHeardAtMs = Math.max(w.lastHeardAtMs, lastHeardAtMs[w.workerId] ?? 0);
  }
  if (d.phase === 'rendezvous') {
    if (d.minReachedAtMs !== null && atMs - d.minReachedAtMs >= config.rendezvousSettleMs) return openGeneration(ctx, atMs, 'start');
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
  if (d.phase === 'waiting') {
    admitJoiners(ctx, atMs);
    if (d.phase === 'waiting' && d.belowMinimumSinceMs !== null && atMs - d.belowMinimumSinceMs >= config.minWorkersWaitMs) {
      fail(
        ctx,
        COORDINATOR_ERROR_CODES.workerLost,
        `only ${plural(d.workers.length, 'worker')} of the ${config.minWorkers} needed remained for ${Math.round(config.minWorkersWaitMs / 1000)} s (minWorkersWaitMs); no replacement joined`,
      );
    }
    return;
  }
  admitJoiners(ctx, atMs);
  const pending = pendingRanks(d, atMs);
  if (pending.workers.length === 0) return;
  const waitedMs = atMs - d.waitingSinceMs;
  const names = namesOf(pending.workers);
  if (config.stallTimeoutMs > 0 && waitedMs >= config.stallTimeoutMs) {
    const message = `stalled for ${Math.round(waitedMs / 1000)} s waiting for ${pending.what} from ${names}`;
    if (config.onStall === 'evict' && pending.workers.length < ranked(d).length) return evict(ctx, pending.workers, message, atMs);
    return fail(ctx, COORDINATOR_ERROR_CODES.stalled, message);
  }
  if (waitedMs >= config.stallWarningMs && atMs - d.lastStallWarningAtMs >= config.stallWarningMs) {
    d.lastStallWarningAtMs = atMs;
    log(ctx, 'warn', `stalled for ${Math.round(waitedMs / 1000)} s waiting for ${pending.what} from ${names}`, {
      ranks: pending.workers.map((w) => w.rank),
    });
  }
}

/** Cuts stragglers so the rest go on in a new generation. */
function evict(ctx: Ctx, stragglers: WorkerRecord[], why: string, atMs: number): void {
  const { d } = ctx;
  for (const w of stragglers) {
    const reason = `evicted as a straggler: ${why} (onStall 'evict')`;
    ctx.out.push({ kind: 'close', workerId: w.workerId, code: CLOSE_CODES.policyViolation, errorCode: COORDINATOR_ERROR_CODES.stragglerEvicted, reason });
    log(ctx, 'warn', `${describe(w)} ${reason}`, { code: COORDINATOR_ERROR_CODES.stragglerEvicted });
  }
  const gone = new Set(stragglers.map((w) => w.workerId));
  d.workers = d.workers.filter((w) => !gone.has(w.workerId));
  openGeneration(ctx, atMs, 'worker-evicted');
}

/**
 * What every part of the machine shares while it handles one event: the draft state it may
 * change, the outbox it appends to, and the small helpers that name workers and end the run.
 */
import { CLOSE_CODES, PROTOCOL_VERSION } from '@ringtrain/protocol';
import { COORDINATOR_ERROR_CODES, type CoordinatorErrorCode } from '../errors.ts';
import type { Effect } from './effects.ts';
import type { CoordinatorState, WorkerRecord } from './state.ts';

export interface Ctx {
  d: CoordinatorState;
  out: Effect[];
}

export function isActive(d: CoordinatorState): boolean {
  return d.phase !== 'finished' && d.phase !== 'failed';
}

export function log(ctx: Ctx, level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void {
  ctx.out.push(fields === undefined ? { kind: 'log', level, message } : { kind: 'log', level, message, fields });
}

export function describe(w: WorkerRecord): string {
  const rank = w.rank === null ? '' : `rank ${w.rank}, `;
  return `worker ${w.workerId} (${rank}${w.hostname} pid ${w.pid})`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function rankList(ranks: number[]): string {
  return `${ranks.length === 1 ? 'rank' : 'ranks'} ${ranks.join(', ')}`;
}

/** The members of the current generation, by rank. */
export function ranked(d: CoordinatorState): WorkerRecord[] {
  return d.workers.filter((w) => w.rank !== null).sort((a, b) => (a.rank ?? 0) - (b.rank ?? 0));
}

export function namesOf(workers: WorkerRecord[]): string {
  return `${rankList(workers.map((w) => w.rank ?? -1))} (${workers.map((w) => `${w.workerId} on ${w.hostname} pid ${w.pid}`).join('; ')})`;
}

export function findWorker(ctx: Ctx, workerId: string): WorkerRecord | undefined {
  return ctx.d.workers.find((w) => w.workerId === workerId);
}

export function waitFromNow(d: CoordinatorState, atMs: number): void {
  d.waitingSinceMs = atMs;
  d.lastStallWarningAtMs = atMs;
}

/** Drops a message of an older generation; true when the message is current. */
export function isCurrent(ctx: Ctx, w: WorkerRecord, generation: number, what: string): boolean {
  if (generation < ctx.d.generation || w.rank === null) {
    log(ctx, 'debug', `dropped ${what} of generation ${generation} from ${describe(w)}; the ring is at generation ${ctx.d.generation}`);
    return false;
  }
  if (generation > ctx.d.generation) {
    violation(ctx, w, `${what} claims generation ${generation}, but the ring is at generation ${ctx.d.generation}`);
    return false;
  }
  return true;
}

/** A worker of the run sent a valid message that makes no sense now: close it and fail the run. */
export function violation(ctx: Ctx, w: WorkerRecord, what: string): void {
  const reason = `protocol violation by ${describe(w)}: ${what}`;
  ctx.out.push({ kind: 'close', workerId: w.workerId, code: CLOSE_CODES.policyViolation, errorCode: COORDINATOR_ERROR_CODES.protocolViolation, reason });
  ctx.d.workers = ctx.d.workers.filter((x) => x.workerId !== w.workerId);
  fail(ctx, COORDINATOR_ERROR_CODES.protocolViolation, reason);
}

export function stopAll(ctx: Ctx, reason: string, failed: boolean): void {
  for (const w of ctx.d.workers) ctx.out.push({ kind: 'send', workerId: w.workerId, message: { v: PROTOCOL_VERSION, type: 'stop', reason, failed } });
}

export function fail(ctx: Ctx, code: CoordinatorErrorCode, message: string): void {
  const { d } = ctx;
  if (!isActive(d)) return;
  d.phase = 'failed';
  log(ctx, 'error', message, { code });
  stopAll(ctx, message, true);
  ctx.out.push({ kind: 'failed', code, message });
}

/**
 * The coordinator as a pure state machine: `step(state, event) -> { state, outbox }`.
 *
 * The socket server is a thin shell around this function: it turns messages, disconnections,
 * timers and operator requests into events, and executes the returned outbox (send, ship data,
 * close, write a checkpoint, hold a state, log a committed step, report progress). Nothing here
 * performs I/O or reads a clock, so a run can be replayed from a transcript of events (see
 * test/testdata/*.txt).
 *
 * The run, phase by phase:
 *   rendezvous    workers join (`worker-joined`); once `minWorkers` are in, the machine waits
 *                 `rendezvousSettleMs` for more (or starts at once at `maxWorkers`).
 *   starting      a generation forms (generation.ts): `assign`, every member's `replica`, the
 *                 starting state fixed and synced, `ready` from every member.
 *   training      each rank gets the plan of the rest of the epoch. A step commits when every
 *                 rank reported it (training.ts); weight checksums of a step are compared then.
 *   evaluating    each rank evaluates its contiguous share of the test set; the shares are summed.
 *   checkpointing rank 0 sends its state, which goes to disk; then the next epoch or the end.
 *   waiting       after the start, fewer than `minWorkers` are left: the run waits for
 *                 replacements for `minWorkersWaitMs`, then fails.
 *
 * Membership changes are ordinary events (membership.ts): a worker lost (its connection closed,
 * or cut for silence by the shell's heartbeat), a straggler evicted, a ring that failed, or a
 * worker joining mid-run each open generation g+1 with whoever is there, from any phase. The
 * step in flight is finished from a survivor that holds it or discarded everywhere (the step
 * commit rule, protocol messages.ts), and what is left of the epoch is dealt out again.
 */
import { COORDINATOR_ERROR_CODES } from '../errors.ts';
import { fail, isActive, log, type Ctx } from './context.ts';
import type { Effect } from './effects.ts';
import { onCheckpointRequested, onEvaluation, onState } from './epoch.ts';
import type { CoordinatorEvent } from './events.ts';
import { onReady, onReplica } from './generation.ts';
import { onJoined, onLeft, onRingFailed, onTick } from './membership.ts';
import { draftOf, type CoordinatorState } from './state.ts';
import { onGradientReady, onStepReported } from './training.ts';

export { pendingRanks } from './membership.ts';

export interface StepResult {
  state: CoordinatorState;
  outbox: Effect[];
}

/** Advances the machine by one event. Never mutates `state`. */
export function step(state: CoordinatorState, event: CoordinatorEvent): StepResult {
  const d = draftOf(state);
  const out: Effect[] = [];
  const ctx: Ctx = { d, out };
  if ('workerId' in event && event.type !== 'worker-joined' && event.type !== 'worker-left') {
    const w = d.workers.find((x) => x.workerId === event.workerId);
    if (w !== undefined) w.lastHeardAtMs = Math.max(w.lastHeardAtMs, event.atMs);
  }
  switch (event.type) {
    case 'worker-joined':
      onJoined(ctx, event);
      break;
    case 'replica-reported':
      onReplica(ctx, event);
      break;
    case 'worker-ready':
      onReady(ctx, event);
      break;
    case 'ring-failed':
      onRingFailed(ctx, event);
      break;
    case 'gradient-ready':
      onGradientReady(ctx, event);
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
      onLeft(ctx, event);
      break;
    case 'checkpoint-requested':
      onCheckpointRequested(ctx, event.atMs);
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
      onTick(ctx, event.atMs, event.lastHeardAtMs);
      break;
    default: {
      const unknown: never = event;
      throw new Error(`unknown coordinator event ${JSON.stringify(unknown)}`);
    }
  }
  return { state: d, outbox: out };
}

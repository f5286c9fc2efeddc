/**
 * The coordinator connection's lifecycle, with the transitions that may follow each other
 * (vitest's `PoolRunner` state enum). An illegal transition throws, so a bug in the control loop
 * shows up at once instead of as a worker training on in a state it should have left.
 *
 *   connecting -> ready        the coordinator welcomed us
 *   ready      -> in-round     a plan or an evaluation started
 *   in-round   -> ready        it ended
 *   ready | in-round -> draining   `stop` arrived or a failure is being reported
 *   connecting | ready | in-round -> reconnecting   the coordinator went away, or refused this
 *                    worker for now (a full ring, an eviction); the replica is kept
 *   reconnecting -> connecting      reached a coordinator again (it welcomes us anew)
 *   any but closed   -> closed
 */
import { IllegalTransitionError } from './errors.ts';

export type ConnectionState = 'connecting' | 'ready' | 'in-round' | 'reconnecting' | 'draining' | 'closed';

const NEXT: Record<ConnectionState, readonly ConnectionState[]> = {
  connecting: ['ready', 'reconnecting', 'draining', 'closed'],
  ready: ['in-round', 'reconnecting', 'draining', 'closed'],
  'in-round': ['ready', 'reconnecting', 'draining', 'closed'],
  reconnecting: ['connecting', 'draining', 'closed'],
  draining: ['closed'],
  closed: [],
};

export class ConnectionLifecycle {
  private current: ConnectionState = 'connecting';
  private readonly history: { from: ConnectionState; to: ConnectionState; why: string }[] = [];

  get state(): ConnectionState {
    return this.current;
  }

  /** Whether `to` may follow the current state. */
  canMoveTo(to: ConnectionState): boolean {
    return NEXT[this.current].includes(to);
  }

  /** Moves to `to`; throws `IllegalTransitionError` when `to` may not follow the current state. */
  moveTo(to: ConnectionState, why: string): void {
    if (!this.canMoveTo(to)) {
      throw new IllegalTransitionError(`the coordinator connection cannot go from ${this.current} to ${to} (${why})`);
    }
    this.history.push({ from: this.current, to, why });
    this.current = to;
  }

  /** Every transition so far, oldest first. */
  get transitions(): readonly { from: ConnectionState; to: ConnectionState; why: string }[] {
    return this.history;
  }
}

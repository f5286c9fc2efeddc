/**
 * What a port lets in before anyone has authenticated: at most `maxUnauthenticated` connections
 * that have not said their hello yet, and handshakes at `perSecond` (a token bucket holding a
 * second's worth, so a burst of workers starting together is let in at once). Both the
 * coordinator port and a worker's peer port use it; each counts what it refuses.
 */
export type AdmissionRefusal = 'unauthenticated_limit' | 'handshake_rate';

export class Admission {
  readonly #maxUnauthenticated: number;
  readonly #perSecond: number;
  readonly #clock: () => number;
  #tokens: number;
  #refilledAtMs: number;
  #unauthenticated = 0;

  constructor(options: { maxUnauthenticated: number; perSecond: number; clock?: () => number }) {
    this.#maxUnauthenticated = options.maxUnauthenticated;
    this.#perSecond = options.perSecond;
    this.#clock = options.clock ?? Date.now;
    this.#tokens = options.perSecond;
    this.#refilledAtMs = this.#clock();
  }

  /** Connections admitted that have not authenticated (nor closed) yet. */
  get unauthenticated(): number {
    return this.#unauthenticated;
  }

  /** Admits one more handshake (it counts as unauthenticated until `settled`), or says why not. */
  admit(): AdmissionRefusal | null {
    const now = this.#clock();
    this.#tokens = Math.min(this.#perSecond, this.#tokens + ((now - this.#refilledAtMs) / 1000) * this.#perSecond);
    this.#refilledAtMs = now;
    if (this.#unauthenticated >= this.#maxUnauthenticated) return 'unauthenticated_limit';
    if (this.#tokens < 1) return 'handshake_rate';
    this.#tokens -= 1;
    this.#unauthenticated += 1;
    return null;
  }

  /** An admitted connection authenticated or closed: it no longer counts. Call once per admission. */
  settled(): void {
    this.#unauthenticated = Math.max(0, this.#unauthenticated - 1);
  }
}

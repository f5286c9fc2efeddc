/**
 * Log lines about refused connections, at a bounded pace: the first of each reason at once, then
 * at most one per interval, saying how many like it went unsaid meanwhile. A flood of bad
 * connections costs a few lines per reason, not megabytes of log. Reasons are a small fixed set.
 */
export class ThrottledLog {
  readonly #emit: (text: string, reason: string) => void;
  readonly #intervalMs: number;
  readonly #clock: () => number;
  readonly #last = new Map<string, { atMs: number; unsaid: number }>();

  constructor(emit: (text: string, reason: string) => void, options: { intervalMs?: number; clock?: () => number } = {}) {
    this.#emit = emit;
    this.#intervalMs = options.intervalMs ?? 10_000;
    this.#clock = options.clock ?? Date.now;
  }

  say(reason: string, text: string): void {
    const now = this.#clock();
    const last = this.#last.get(reason);
    if (last !== undefined && now - last.atMs < this.#intervalMs) {
      last.unsaid += 1;
      return;
    }
    this.#last.set(reason, { atMs: now, unsaid: 0 });
    const unsaid = last?.unsaid ?? 0;
    this.#emit(unsaid === 0 ? text : `${text} (and ${unsaid} more refused for ${reason} since the last line)`, reason);
  }
}

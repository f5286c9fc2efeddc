/**
 * How much of a vector still being written is final, for an all-reduce that starts before the
 * writer is done. The writer (a backward pass, output side first) finishes the vector from its end
 * towards its start, so what is final is always a suffix `[from, length)`; it grows by whole
 * ranges, each ending where the previous one began. The ring starts a bucket once the suffix
 * covers it (see `ring-allreduce.ts`, step F).
 */
import { InvalidAllReduceOptionError } from './errors.ts';

export class FinalSuffix {
  readonly length: number;
  #from: number;
  #completeAt: number | undefined;
  #failure: Error | undefined;
  #waiters: { resolve: () => void; reject: (error: Error) => void }[] = [];

  /** A vector of `length` elements of which nothing is final yet. */
  constructor(length: number) {
    if (!Number.isInteger(length) || length < 0) throw new InvalidAllReduceOptionError(`a final suffix needs a length that is a non-negative integer, got ${length}`);
    this.length = length;
    this.#from = length;
    if (length === 0) this.#completeAt = performance.now();
  }

  /** The first final element: `[from, length)` may be read. */
  get from(): number {
    return this.#from;
  }

  /** Whether the whole vector is final. */
  get complete(): boolean {
    return this.#from === 0;
  }

  /** `performance.now()` when the whole vector became final, or undefined before. */
  get completeAt(): number | undefined {
    return this.#completeAt;
  }

  /** Whether element `index` (and so everything after it) is final. */
  covers(index: number): boolean {
    return index >= this.#from;
  }

  /** `[start, end)` is final; `end` must be where the suffix begins now. */
  markFinal(start: number, end: number): void {
    if (this.#failure !== undefined) throw this.#failure;
    if (end !== this.#from || !Number.isInteger(start) || start < 0 || start > end) {
      throw new InvalidAllReduceOptionError(
        `elements [${start}, ${end}) cannot become final: the final suffix of this ${this.length}-element vector starts at ${this.#from}, ` +
          `so the next final range must end there`,
      );
    }
    this.#from = start;
    if (start === 0) this.#completeAt = performance.now();
    this.#wake();
  }

  /** The writer failed: the vector will never be final, and whoever waits for it learns why. */
  fail(error: Error): void {
    this.#failure ??= error;
    const waiters = this.#waiters.splice(0);
    for (const waiter of waiters) waiter.reject(this.#failure);
  }

  /** Resolves at the next growth of the suffix; rejects if the writer fails. */
  grown(): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  #wake(): void {
    const waiters = this.#waiters.splice(0);
    for (const waiter of waiters) waiter.resolve();
  }
}

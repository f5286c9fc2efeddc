/**
 * Guards a label whose values come from the program at run time (a worker state, a failure
 * reason): each value must be a short lower-case word, and the label may take at most
 * `maxValues` distinct values over the life of the process, because Prometheus keeps every
 * distinct value as its own time series.
 */
import { InvalidLabelValueError, TooManyLabelValuesError } from './errors.ts';

/** A label value: a lower-case word of letters, digits, `_` and `-`, at most 63 characters. */
export const LABEL_VALUE_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/;

export class BoundedLabelValues {
  readonly #seen = new Set<string>();

  /**
   * @param label The label's name, for error messages.
   * @param maxValues The most distinct values the label may take.
   * @param initial Values known in advance (admitted at once, in order).
   */
  constructor(
    readonly label: string,
    readonly maxValues: number,
    initial: readonly string[] = [],
  ) {
    for (const value of initial) this.admit(value);
  }

  /** Checks `value`, remembers it, and returns it; throws when it is malformed or one too many. */
  admit(value: string): string {
    if (this.#seen.has(value)) return value;
    if (typeof value !== 'string' || !LABEL_VALUE_PATTERN.test(value)) {
      throw new InvalidLabelValueError(
        `${this.label} label value ${JSON.stringify(value)} is not a lower-case word (${LABEL_VALUE_PATTERN.source})`,
      );
    }
    if (this.#seen.size >= this.maxValues) {
      throw new TooManyLabelValuesError(
        `${this.label} label would take a ${this.maxValues + 1}th distinct value ${JSON.stringify(value)}; ` +
          `at most ${this.maxValues} are allowed (seen: ${[...this.#seen].join(', ')})`,
      );
    }
    this.#seen.add(value);
    return value;
  }

  /** Every value admitted so far, in the order first seen. */
  values(): readonly string[] {
    return [...this.#seen];
  }
}

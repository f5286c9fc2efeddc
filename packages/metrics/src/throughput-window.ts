/**
 * Examples per second over a sliding window of wall time, the way a person reading a dashboard
 * means it: the examples of the steps that ended in the last `windowMs`, divided by the window,
 * or by the time since the first step began when the run is younger than the window. When no
 * step ends for a whole window the rate falls to 0, so a stalled run shows as one.
 */
import { assertNonNegative } from './checks.ts';
import { InvalidMetricsOptionError } from './errors.ts';

interface EndedStep {
  endMs: number;
  examples: number;
}

export class ThroughputWindow {
  readonly #steps: EndedStep[] = [];
  #firstStartMs: number | undefined;

  /** @param windowMs Width of the window in milliseconds. */
  constructor(readonly windowMs: number) {
    if (!(Number.isFinite(windowMs) && windowMs > 0)) {
      throw new InvalidMetricsOptionError(
        `throughput window must be a positive number of milliseconds, got ${windowMs}`,
      );
    }
  }

  /**
   * A step ended at `endMs` (on the same clock as `perSecond`'s `nowMs`) after `stepSeconds`,
   * having processed `examples`.
   */
  record(endMs: number, examples: number, stepSeconds: number): void {
    assertNonNegative('examples', examples);
    assertNonNegative('stepSeconds', stepSeconds);
    this.#firstStartMs ??= endMs - stepSeconds * 1000;
    this.#steps.push({ endMs, examples });
  }

  /** Examples per second at `nowMs`; 0 before the first step and after a window without one. */
  perSecond(nowMs: number): number {
    const windowStartMs = nowMs - this.windowMs;
    while (this.#steps.length > 0 && this.#steps[0]!.endMs <= windowStartMs) this.#steps.shift();
    if (this.#steps.length === 0 || this.#firstStartMs === undefined) return 0;
    const elapsedMs = nowMs - Math.max(windowStartMs, this.#firstStartMs);
    if (elapsedMs <= 0) return 0;
    let examples = 0;
    for (const step of this.#steps) examples += step.examples;
    return examples / (elapsedMs / 1000);
  }
}

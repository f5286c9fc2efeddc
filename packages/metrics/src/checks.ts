/**
 * Range checks for the values handed to the update methods. A metric that silently records a
 * negative duration or an accuracy of 37 hides the bug that produced it, so these throw with the
 * name of the offending field.
 */
import { InvalidMetricValueError } from './errors.ts';

/** `value` is a finite number ≥ 0 (a duration, a byte count, a number of examples). */
export function assertNonNegative(field: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidMetricValueError(`${field} must be a finite number ≥ 0, got ${String(value)}`);
  }
}

/** `value` is an integer ≥ 0 (a rank, an epoch, a step, a count). */
export function assertNonNegativeInteger(field: string, value: number): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidMetricValueError(`${field} must be an integer ≥ 0, got ${String(value)}`);
  }
}

/** `value` is a ratio between 0 and 1 inclusive. */
export function assertRatio(field: string, value: number): void {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw new InvalidMetricValueError(`${field} must be a ratio between 0 and 1, got ${String(value)}`);
  }
}

/**
 * `value` is a number. NaN and ±Infinity are accepted on purpose: a diverging loss is exactly
 * what the `RingtrainLossNotFinite` alert looks for.
 */
export function assertNumber(field: string, value: number): void {
  if (typeof value !== 'number') {
    throw new InvalidMetricValueError(`${field} must be a number, got ${typeof value}`);
  }
}

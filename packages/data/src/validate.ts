import { InvalidDataOptionError } from './errors.ts';

/**
 * Checks that `value` is an integer in `[min, max]` and returns it; the error names the option.
 */
export function requireInteger(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`;
    throw new InvalidDataOptionError(`${name} must be ${range}, got ${String(value)}`);
  }
  return value;
}

/** Checks that `value` is a finite number (strictly positive when `positive`) and returns it. */
export function requireFinite(name: string, value: number, positive = false): number {
  if (!Number.isFinite(value) || (positive && value <= 0)) {
    throw new InvalidDataOptionError(`${name} must be a finite${positive ? ' positive' : ''} number, got ${String(value)}`);
  }
  return value;
}

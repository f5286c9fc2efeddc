/**
 * Assertion guards for the fields of a decoded message. A `Check<T>` takes an unknown value and
 * returns it as a `T`, or throws a {@link BadFieldError} that names the message type, the path of
 * the field and what was expected: "bad field 'ring[1].address.port' in 'assign': expected an
 * integer from 1 to 65535, got -3".
 *
 * Objects are rebuilt from their known fields, so a handler never sees a field the schema does
 * not name, and only own properties are read.
 */
import { BadFieldError } from './errors.ts';

/** Validates one value at `path` within a message of type `messageType`. */
export type Check<T> = (value: unknown, path: string, messageType: string) => T;

/** Throws the {@link BadFieldError} for `value` at `path`. */
export function fail(messageType: string, path: string, expected: string, value: unknown): never {
  throw new BadFieldError(`bad field '${path}' in '${messageType}': expected ${expected}, got ${show(value)}`, {
    messageType,
    field: path,
  });
}

/** A short, safe rendering of a bad value for an error message. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${value.byteLength} bytes)`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'object') return 'an object';
  return String(value);
}

/** A string of at most `maxLength` UTF-16 units. */
export function text(maxLength: number, minLength = 0): Check<string> {
  return (value, path, type) => {
    if (typeof value !== 'string' || value.length < minLength || value.length > maxLength) {
      fail(type, path, `a string of ${minLength} to ${maxLength} characters`, value);
    }
    return value;
  };
}

/** An integer from `min` to `max`, both included. */
export function integer(min: number, max: number = Number.MAX_SAFE_INTEGER): Check<number> {
  return (value, path, type) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      fail(type, path, `an integer from ${min} to ${max}`, value);
    }
    return value;
  };
}

/** An unsigned 32-bit integer (generations, steps, ranks, counts). */
export const u32: Check<number> = integer(0, 0xffff_ffff);

/** A finite number from `min` to `max` (defaults: any finite number). */
export function finite(min = -Number.MAX_VALUE, max = Number.MAX_VALUE): Check<number> {
  return (value, path, type) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      fail(type, path, min === -Number.MAX_VALUE ? 'a finite number' : `a finite number from ${min} to ${max}`, value);
    }
    return value;
  };
}

/** Any number, NaN and infinities included (a diverged loss is reported, not refused). */
export const anyNumber: Check<number> = (value, path, type) => {
  if (typeof value !== 'number') fail(type, path, 'a number', value);
  return value;
};

export const boolean: Check<boolean> = (value, path, type) => {
  if (typeof value !== 'boolean') fail(type, path, 'true or false', value);
  return value;
};

/** `check`, or nothing: a field a newer peer may send and an older one leaves out. */
export function optional<T>(check: Check<T>): Check<T | undefined> {
  return (value, path, type) => (value === undefined ? undefined : check(value, path, type));
}

/** One of a fixed set of strings or numbers. */
export function oneOf<const T extends readonly (string | number)[]>(...choices: T): Check<T[number]> {
  return (value, path, type) => {
    if (!choices.includes(value as T[number])) fail(type, path, `one of ${choices.map((c) => JSON.stringify(c)).join(', ')}`, value);
    return value as T[number];
  };
}

/** Raw bytes. */
export const bytes: Check<Uint8Array> = (value, path, type) => {
  if (!(value instanceof Uint8Array)) fail(type, path, 'raw bytes (Uint8Array)', value);
  return value;
};

export const uint32Array: Check<Uint32Array> = (value, path, type) => {
  if (!(value instanceof Uint32Array)) fail(type, path, 'a Uint32Array', value);
  return value;
};

export const float32Array: Check<Float32Array> = (value, path, type) => {
  if (!(value instanceof Float32Array)) fail(type, path, 'a Float32Array', value);
  return value;
};

/** An array of at most `maxLength` elements, each checked. */
export function arrayOf<T>(check: Check<T>, maxLength: number): Check<T[]> {
  return (value, path, type) => {
    if (!Array.isArray(value) || value.length > maxLength) fail(type, path, `an array of at most ${maxLength} elements`, value);
    return value.map((element, i) => check(element, `${path}[${i}]`, type));
  };
}

type Shape = Record<string, Check<unknown>>;
type Checked<S extends Shape> = { [K in keyof S]: S[K] extends Check<infer T> ? T : never };

/** A plain object with exactly the fields of `shape`, rebuilt from them. */
export function object<S extends Shape>(shape: S): Check<Checked<S>> {
  return (value, path, type) => {
    if (!isPlainObject(value)) fail(type, path, 'an object', value);
    const result: Record<string, unknown> = {};
    for (const [key, check] of Object.entries(shape)) {
      const fieldPath = path === '' ? key : `${path}.${key}`;
      const checked = check(Object.hasOwn(value, key) ? value[key] : undefined, fieldPath, type);
      // An `optional` field left out stays out, rather than coming back as a key set to undefined.
      if (checked !== undefined) result[key] = checked;
    }
    return result as Checked<S>;
  };
}

/** An object literal: not an array, typed array, Map, Date or other class instance. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

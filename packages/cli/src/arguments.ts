/**
 * Parsers for option values: each turns the text of one option into a value or throws
 * commander's InvalidArgumentError, which commander prints as
 * "error: option '--workers <n>' argument 'x' is invalid. <why>".
 */
import { InvalidArgumentError } from 'commander';

export function integerIn(min: number, max = Number.MAX_SAFE_INTEGER): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`Expected a whole number from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}.`);
    }
    return value;
  };
}

export function numberIn(min: number, max = Number.POSITIVE_INFINITY, { exclusiveMin = false } = {}): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value) || value < min || (exclusiveMin && value === min) || value > max) {
      const low = exclusiveMin ? `above ${min}` : `of at least ${min}`;
      throw new InvalidArgumentError(`Expected a number ${low}${max === Number.POSITIVE_INFINITY ? '' : ` and at most ${max}`}.`);
    }
    return value;
  };
}

export function oneOf<T extends string>(choices: readonly T[]): (text: string) => T {
  return (text) => {
    if (!(choices as readonly string[]).includes(text)) throw new InvalidArgumentError(`Expected one of ${choices.join(', ')}.`);
    return text as T;
  };
}

export function websocketUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidArgumentError('Expected a URL such as ws://127.0.0.1:7070.');
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new InvalidArgumentError('Expected a ws:// or wss:// URL.');
  return text;
}

/** `resnet18` ... `resnet152` to the depth. */
export const MODEL_NAMES = ['resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

export function depthOf(name: ModelName): 18 | 34 | 50 | 101 | 152 {
  return Number(name.slice('resnet'.length)) as 18 | 34 | 50 | 101 | 152;
}

export const BACKEND_CHOICES = ['auto', 'tfjs-node-gpu', 'tfjs-node', 'native', 'wasm', 'cpu'] as const;

/** Where and how `--inject-fault kill@STEP:POINT` or `stall@STEP:POINT:MS` strikes. */
export interface FaultSpec {
  kind: 'kill' | 'stall';
  step: number;
  point: 'compute' | 'before-allreduce' | 'during-allreduce' | 'after-allreduce';
  /** How long a stall holds the step. */
  stallMs: number;
}

/**
 * `kill@12:during-allreduce`: the worker kills its own process there; `stall@12:compute:8000`:
 * it holds step 12 there for 8 s, alive and answering heartbeats (a straggler). For failure tests.
 */
export function faultSpec(text: string): FaultSpec {
  const match = /^(kill|stall)@(\d+):(compute|before-allreduce|during-allreduce|after-allreduce)(?::(\d+))?$/.exec(text.trim());
  const kind = match?.[1] as FaultSpec['kind'] | undefined;
  if (match === null || kind === undefined || (kind === 'stall') !== (match[4] !== undefined) || (kind === 'stall' && match[3] === 'during-allreduce')) {
    throw new InvalidArgumentError('Expected kill@STEP:POINT or stall@STEP:POINT:MS, POINT one of compute, before-allreduce, during-allreduce, after-allreduce (a stall not during-allreduce).');
  }
  return { kind, step: Number(match[2]), point: match[3] as FaultSpec['point'], stallMs: Number(match[4] ?? 0) };
}

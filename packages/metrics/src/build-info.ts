/**
 * The build info gauge, shared by coordinator and workers: always 1, with what is running as
 * labels, so that `* on(instance) group_left(version) ringtrain_build_info` can annotate any
 * other series.
 */
import { Gauge, type Registry } from 'prom-client';
import { InvalidMetricsOptionError } from './errors.ts';
import { SHARED_METRIC_NAMES } from './names.ts';

/** What a process runs. */
export interface BuildInfo {
  /** ringtrain's version, e.g. `0.1.0`. */
  version: string;
  /** The TensorFlow.js backend the workers train with, e.g. `cpu`, `wasm`, `tensorflow`. */
  backend: string;
  /** The model trained, e.g. `resnet18`. */
  model: string;
}

const MAX_INFO_LENGTH = 100;

function checkInfo(info: BuildInfo): BuildInfo {
  for (const field of ['version', 'backend', 'model'] as const) {
    const value = info[field];
    if (typeof value !== 'string' || value.length === 0 || value.length > MAX_INFO_LENGTH) {
      throw new InvalidMetricsOptionError(
        `build info ${field} must be a non-empty string of at most ${MAX_INFO_LENGTH} characters, got ${JSON.stringify(value)}`,
      );
    }
  }
  return { version: info.version, backend: info.backend, model: info.model };
}

export class BuildInfoGauge {
  readonly #gauge: Gauge<keyof BuildInfo>;
  #info: BuildInfo;

  constructor(registry: Registry, info: BuildInfo) {
    this.#info = checkInfo(info);
    this.#gauge = new Gauge({
      name: SHARED_METRIC_NAMES.buildInfo,
      help: 'Always 1; the ringtrain version, TensorFlow.js backend and model as labels.',
      labelNames: ['version', 'backend', 'model'],
      registers: [registry],
    });
    this.#gauge.set({ ...this.#info }, 1);
  }

  /** The labels currently exported. */
  get info(): BuildInfo {
    return { ...this.#info };
  }

  /** Replaces some of the labels (a worker learns its model only when it is assigned one). */
  update(change: Partial<BuildInfo>): void {
    const next = checkInfo({ ...this.#info, ...change });
    this.#gauge.reset();
    this.#info = next;
    this.#gauge.set({ ...next }, 1);
  }
}

/**
 * The PyTorch reference of the model benchmark: `pytorch_reference.py` (the same ResNet-18, the
 * same batch, the same momentum-SGD step) run in a Python that imports torch, one process per
 * thread count, and the ratio of ringtrain's throughput to it.
 *
 * Which Python: `--python PATH` when given, else the first of `python3` on the PATH and
 * `/usr/bin/python3` that imports torch. Debian's `python3-torch` installs into the system
 * Python, which a pyenv or virtualenv `python3` earlier on the PATH hides.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { runJsonChild } from './json-child.ts';

/** Pythons tried, in order, when none is named. */
export const DEFAULT_PYTHONS: readonly string[] = ['python3', '/usr/bin/python3'];

/** How long `import torch` may take before a Python counts as without torch. */
const IMPORT_CHECK_TIMEOUT_MS = 60_000;

export interface PytorchRun {
  readonly framework: 'pytorch';
  /** `torch.__version__`. */
  readonly version: string;
  /** The oneDNN (MKL-DNN) version torch was built with, null without it. */
  readonly oneDNN: string | null;
  readonly threads: number;
  readonly batchSize: number;
  readonly imageSize: number;
  readonly examplesPerSecond: number;
  readonly stepMs: number;
  readonly peakRssBytes: number;
  /** CPU time per wall-clock second and thread while timed. */
  readonly cpuShare: number;
}

export interface PytorchRunOptions {
  readonly python: string;
  readonly threads: number;
  readonly batchSize: number;
  readonly imageSize: number;
  readonly steps: number;
  readonly warmup: number;
}

export type PythonWithTorch = { readonly found: true; readonly python: string } | { readonly found: false; readonly tried: readonly string[] };

/** The first of `candidates` that runs `import torch` successfully. */
export function findPythonWithTorch(candidates: readonly string[] = DEFAULT_PYTHONS): PythonWithTorch {
  for (const python of candidates) {
    const check = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore', timeout: IMPORT_CHECK_TIMEOUT_MS });
    if (check.status === 0) return { found: true, python };
  }
  return { found: false, tried: candidates };
}

/** Runs `pytorch_reference.py` once and returns its figures. */
export function runPytorchReference(options: PytorchRunOptions): Promise<PytorchRun> {
  const script = fileURLToPath(new URL('./pytorch_reference.py', import.meta.url));
  const args = [
    script,
    ...['--threads', String(options.threads), '--batch', String(options.batchSize), '--image-size', String(options.imageSize)],
    ...['--steps', String(options.steps), '--warmup', String(options.warmup)],
  ];
  return runJsonChild<PytorchRun>(options.python, args, `the PyTorch reference at ${options.threads} thread(s) (${options.python})`);
}

export interface PytorchReferenceOptions {
  /** Pythons to try, in order; the first that imports torch runs the reference. */
  readonly pythons: readonly string[];
  readonly batchSize: number;
  readonly imageSize: number;
  readonly steps: number;
  readonly warmup: number;
}

/** PyTorch's runs of the reference step, one per thread count, each measured when first asked for. */
export class PytorchReference {
  private readonly options: PytorchReferenceOptions;
  private readonly byThreads = new Map<number, PytorchRun>();
  private found: PythonWithTorch | undefined;
  private failure: string | undefined;

  constructor(options: PytorchReferenceOptions) {
    this.options = options;
  }

  /** The Python that runs the reference, once one was found. */
  get python(): string | undefined {
    return this.found?.found === true ? this.found.python : undefined;
  }

  /** One line saying why there is no (complete) reference, once the search for torch or a run has failed. */
  get unavailable(): string | undefined {
    if (this.failure !== undefined) return `PyTorch reference: stopped, ${this.failure}`;
    if (this.found === undefined || this.found.found) return undefined;
    return `PyTorch reference: skipped, no Python here imports torch (tried ${this.found.tried.join(', ')}; on Debian: apt-get install python3-torch).`;
  }

  has(threads: number): boolean {
    return this.byThreads.has(threads) || this.found?.found === false || this.failure !== undefined;
  }

  /**
   * Measures PyTorch at `threads` threads; undefined when no Python imports torch or a run has
   * failed (`unavailable` says which), so that the ringtrain rows are still reported.
   */
  async measure(threads: number): Promise<PytorchRun | undefined> {
    this.found ??= findPythonWithTorch(this.options.pythons);
    if (!this.found.found || this.failure !== undefined) return undefined;
    const known = this.byThreads.get(threads);
    if (known !== undefined) return known;
    try {
      const run = await runPytorchReference({ ...this.options, python: this.found.python, threads });
      this.byThreads.set(threads, run);
      return run;
    } catch (error) {
      this.failure = error instanceof Error ? error.message : String(error);
      return undefined;
    }
  }

  /** The runs so far, by thread count. */
  runs(): PytorchRun[] {
    return [...this.byThreads.values()].sort((a, b) => a.threads - b.threads);
  }
}

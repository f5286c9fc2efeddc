/** Resident memory of processes on this machine, read from /proc, and its peak while sampled. */
import { readFileSync } from 'node:fs';

/** VmRSS of `pid` in MiB, or NaN once the process is gone. */
export function residentMiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) / 1024;
  } catch {
    return Number.NaN;
  }
}

/** Samples `pid` every `everyMs` until stopped; `peak` is the largest figure seen. */
export class ResidentPeak {
  peak: number;
  readonly #timer: NodeJS.Timeout;

  constructor(readonly pid: number, everyMs = 100) {
    this.peak = residentMiB(pid);
    this.#timer = setInterval(() => {
      const now = residentMiB(pid);
      if (now > this.peak) this.peak = now;
    }, everyMs);
  }

  stop(): number {
    clearInterval(this.#timer);
    return this.peak;
  }
}

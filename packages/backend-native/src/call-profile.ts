/**
 * Where native time goes: wall-clock time and call counts per addon function while a profile is
 * running. Kernels call the addon through its exported functions, so wrapping them sees every
 * native call; what a step spends outside them is JavaScript (tfjs's tape, the cpu kernels,
 * copies). Off unless started; one profile at a time.
 */
import { DEFAULT_ADDON_PATH, loadAddon } from './addon.ts';
import { NativeBackendUnavailableError, NativeProfileRunningError } from './errors.ts';

export interface NativeCallTotals {
  readonly calls: number;
  readonly milliseconds: number;
}

export interface NativeCallProfile {
  /** Restores the plain functions and returns the totals per addon function, largest first. */
  stop(): Map<string, NativeCallTotals>;
}

let running = false;

/**
 * Starts timing every call into the addon.
 * @throws NativeBackendUnavailableError without the addon
 * @throws NativeProfileRunningError while another profile runs
 */
export function startNativeCallProfile(addonPath: string = DEFAULT_ADDON_PATH): NativeCallProfile {
  const load = loadAddon(addonPath);
  if (!load.ok) throw new NativeBackendUnavailableError(load.reason);
  if (running) throw new NativeProfileRunningError();
  running = true;
  const addon = load.addon as unknown as Record<string, unknown>;
  const originals = new Map<string, (...args: unknown[]) => unknown>();
  const totals = new Map<string, { calls: number; milliseconds: number }>();
  for (const [name, value] of Object.entries(addon)) {
    if (typeof value !== 'function') continue;
    const original = value as (...args: unknown[]) => unknown;
    originals.set(name, original);
    const entry = { calls: 0, milliseconds: 0 };
    totals.set(name, entry);
    addon[name] = (...args: unknown[]) => {
      const start = performance.now();
      try {
        return original.apply(addon, args);
      } finally {
        entry.milliseconds += performance.now() - start;
        entry.calls++;
      }
    };
  }
  return {
    stop() {
      for (const [name, original] of originals) addon[name] = original;
      running = false;
      return new Map([...totals].filter(([, t]) => t.calls > 0).sort((a, b) => b[1].milliseconds - a[1].milliseconds));
    },
  };
}

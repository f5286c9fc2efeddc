/**
 * Real ringtrain processes for the deploy tests: started as their images and manifests start
 * them (`npx --no ringtrain …`), each in a process group of its own so that stopping one ends
 * npx and everything under it, with their JSON log lines kept for the assertions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export interface RingtrainProcess {
  readonly child: ChildProcess;
  /** Every line written to stderr and stdout so far. */
  readonly lines: string[];
  /** Resolves with the exit code (or the signal's name) once the process has ended. */
  readonly exited: Promise<number | string>;
  /** The first JSON log line whose `msg` matches, waiting up to `timeoutMs`. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** SIGTERM to the whole group, SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * `npx --no ringtrain ...args` in `cwd` (or `launcher ...args`, for a container's own command),
 * with `env` added to PATH and HOME.
 */
export function startRingtrain(
  cwd: string,
  args: readonly string[],
  env: Record<string, string>,
  launcher: readonly string[] = ['npx', '--no', 'ringtrain'],
): RingtrainProcess {
  const child = spawn(launcher[0]!, [...launcher.slice(1), ...args], {
    cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
  });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const take = (chunk: Buffer, carry: { rest: string }) => {
    const parts = (carry.rest + chunk.toString('utf8')).split('\n');
    carry.rest = parts.pop()!;
    lines.push(...parts);
    for (const wake of waiters) wake();
  };
  const out = { rest: '' };
  const err = { rest: '' };
  child.stdout!.on('data', (c: Buffer) => take(c, out));
  child.stderr!.on('data', (c: Buffer) => take(c, err));
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      for (const carry of [out, err]) if (carry.rest !== '') lines.push(carry.rest);
      for (const wake of waiters) wake();
      resolve(code ?? signal ?? 'unknown');
    });
  });
  let ended = false;
  void exited.then(() => (ended = true));

  const findLog = (pattern: RegExp): Record<string, unknown> | undefined => {
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (typeof entry.msg === 'string' && pattern.test(entry.msg)) return entry;
      } catch {
        // not a log line
      }
    }
    return undefined;
  };

  return {
    child,
    lines,
    exited,
    waitForLog(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = findLog(pattern);
          if (found !== undefined) return done(() => resolve(found));
          if (ended) return done(() => reject(new Error(`${[...launcher, ...args].slice(0, 4).join(' ')} exited before logging ${pattern}:\n${lines.join('\n')}`)));
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`${[...launcher, ...args].slice(0, 4).join(' ')} logged no ${pattern} in ${timeoutMs} ms:\n${lines.join('\n')}`))),
          timeoutMs,
        );
        const done = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    },
    async stop(graceMs = 10_000) {
      if (ended || child.pid === undefined) return;
      process.kill(-child.pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (!ended) process.kill(-child.pid!, 'SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The last `count` lines of each process, to explain a failure. */
export function lastLines(processes: Record<string, RingtrainProcess>, count = 20): string {
  return Object.entries(processes)
    .map(([name, p]) => `\n--- ${name}, last ${count} lines:\n${p.lines.slice(-count).join('\n')}`)
    .join('');
}

/** A loopback port nothing listens on now (another process may take it first; tests accept that). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Polls `url` until `accept` holds for its answer, up to `timeoutMs`; returns that answer. */
export async function pollHttp(
  url: string,
  accept: (status: number, body: unknown) => boolean,
  timeoutMs = 60_000,
  context: () => string = () => '',
): Promise<{ status: number; body: unknown }> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    try {
      const response = await fetch(url);
      const text = await response.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      if (accept(response.status, body)) return { status: response.status, body };
      last = `${response.status} ${text.slice(0, 300)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer as expected in ${timeoutMs} ms; last: ${last}${context()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * A real Prometheus server (Debian's `prometheus`) for the integration suites: bound to the
 * loopback on the port given, scraping the given targets every second, with its storage in a
 * temporary directory. Its HTTP query API is how a test reads back what it scraped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface PrometheusOptions {
  /** A fresh directory for the configuration and the storage. */
  dir: string;
  port: number;
  /** Job name -> `host:port` targets, scraped at `/metrics`. */
  jobs: Record<string, string[]>;
  /** @default 1 */
  scrapeIntervalSeconds?: number;
}

export interface Sample {
  metric: Record<string, string>;
  /** [unix seconds, value] pairs. */
  values: [number, number][];
}

export interface RunningPrometheus {
  url: string;
  /** Runs an instant query (`/api/v1/query`), at `timeSeconds` or now; range vectors come back as matrices. */
  query(expression: string, timeSeconds?: number): Promise<Sample[]>;
  /** Stops the server and waits for it to exit. */
  stop(): Promise<void>;
  /** What it printed, for assertion messages. */
  output(): string;
}

export async function startPrometheus(options: PrometheusOptions): Promise<RunningPrometheus> {
  const interval = `${options.scrapeIntervalSeconds ?? 1}s`;
  const jobs = Object.entries(options.jobs)
    .map(([name, targets]) => `  - job_name: ${name}\n    metrics_path: /metrics\n    static_configs:\n      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]\n`)
    .join('');
  const config = `global:\n  scrape_interval: ${interval}\n  scrape_timeout: ${interval}\n  evaluation_interval: ${interval}\nscrape_configs:\n${jobs}`;
  const configPath = join(options.dir, 'prometheus.yml');
  await mkdir(join(options.dir, 'data'), { recursive: true });
  await writeFile(configPath, config);
  const child: ChildProcess = spawn(
    'prometheus',
    [`--config.file=${configPath}`, `--storage.tsdb.path=${join(options.dir, 'data')}`, `--web.listen-address=127.0.0.1:${options.port}`, '--log.level=warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnError = new Promise<never>((_, reject) => child.once('error', (e) => reject(new Error(`could not start prometheus (Debian package prometheus): ${e.message}`))));
  spawnError.catch(() => {});
  const url = `http://127.0.0.1:${options.port}`;

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${output}`);
    const ready = await Promise.race([fetch(`${url}/-/ready`).then((r) => r.ok, () => false), spawnError]);
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`prometheus was not ready within 30 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  return {
    url,
    async query(expression, timeSeconds) {
      const params = new URLSearchParams({ query: expression });
      if (timeSeconds !== undefined) params.set('time', String(timeSeconds));
      const res = await fetch(`${url}/api/v1/query?${params.toString()}`);
      const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[] } };
      if (body.status !== 'success' || body.data === undefined) throw new Error(`query ${expression} failed: ${body.error ?? res.status}`);
      return body.data.result.map((r) => ({
        metric: r.metric,
        values: (r.values ?? (r.value === undefined ? [] : [r.value])).map(([t, v]) => [t, Number(v)] as [number, number]),
      }));
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
    },
    output: () => output,
  };
}

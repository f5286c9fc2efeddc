/**
 * `npm run bench:recovery`: how fast a run recovers from faults injected into it. A coordinator
 * and three workers (real processes, real sockets, real Fashion-MNIST) train; on a schedule the
 * bench kills a worker with SIGKILL (and starts a replacement, as `ringtrain launch` would) or
 * freezes one with SIGSTOP past the heartbeat timeout (and thaws it, whereupon it reconnects and
 * joins again), `--faults` times each. From the coordinator's log and its committed-step log it
 * prints, per kind of fault:
 *
 *   detect      from the fault to the coordinator naming the worker lost
 *   resume      from that to training going on in the new generation
 *   discarded   steps cut short that no survivor had finished
 *   lost / doubled   samples of the finished epochs trained zero times, or more than once (must be 0)
 *
 * Options: --faults 10 --model resnet18 --width 1 --batch-size 96 --heartbeat-timeout-ms 8000
 *          --backend auto --json
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BIN, runRingtrain } from '../test/launch-helpers.ts';
import { readCommittedSteps, sampleCounts } from '../test/support/committed-steps.ts';

const { values } = parseArgs({
  options: {
    faults: { type: 'string', default: '10' },
    model: { type: 'string', default: 'resnet18' },
    width: { type: 'string', default: '1' },
    'batch-size': { type: 'string', default: '96' },
    'heartbeat-timeout-ms': { type: 'string', default: '8000' },
    backend: { type: 'string', default: 'auto' },
    json: { type: 'boolean', default: false },
  },
});
const faults = Number(values.faults);
if (!Number.isInteger(faults) || faults < 1) throw new Error(`--faults must be a positive integer, got ${values.faults}`);
const heartbeatTimeoutMs = Number(values['heartbeat-timeout-ms']);
const TOKEN = 'recovery-bench-token-0123456789abcdef';
const TRAIN = 6000;

interface LogLine {
  time: number;
  msg: string;
}


interface Fault {
  kind: 'kill' | 'stop';
  atMs: number;
  detectedMs: number;
  resumedMs: number;
  discarded: number;
}

function parseLog(text: string): LogLine[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine & { name?: string })
    .filter((l) => l.name === 'coordinator');
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ringtrain-recovery-'));
  const stepLog = join(dir, 'committed.jsonl');
  const coordinator = runRingtrain(
    [
      'coordinator', '--port', '0', '--min-workers', '2', '--max-workers', '3', '--rendezvous-settle-ms', '60000',
      '--heartbeat-timeout-ms', String(heartbeatTimeoutMs),
      '--model', values.model ?? 'resnet18', '--width', values.width ?? '1', '--batch-size', values['batch-size'] ?? '96',
      '--epochs', '1000', '--limit-train', String(TRAIN), '--limit-test', '500', '--checksum-every', '10',
      '--step-log', stepLog, '--log-format', 'json', '--log-level', 'info',
    ],
    { RINGTRAIN_TOKEN: TOKEN },
  );
  const url = await coordinator.url;
  const log = (): LogLine[] => parseLog(coordinator.output());
  const workers = new Map<string, ChildProcess>();
  let serial = 0;
  const start = (): string => {
    const id = `w${serial++}`;
    const args = [BIN, 'worker', '--coordinator', url, '--worker-id', id, '--workers-per-machine', '3', '--metrics-port', '0', '--backend', values.backend ?? 'auto', '--log-level', 'warn'];
    // Each worker's warnings go to a file of its own, kept when the bench fails.
    const errors = openSync(join(dir, `${id}.log`), 'w');
    workers.set(id, spawn(process.execPath, args, { env: { ...process.env, RINGTRAIN_TOKEN: TOKEN }, stdio: ['ignore', 'ignore', errors] }));
    return id;
  };
  const readyCount = (): number => log().filter((l) => l.msg.startsWith('recovered: training goes on')).length;
  // A generation of three is ready once its rank 2 is.
  const fullGenerations = (): number => log().filter((l) => /^worker \S+ \(rank 2, .*\) is ready$/.test(l.msg)).length;
  for (let i = 0; i < 3; i++) start();
  await until('training starts', () => log().some((l) => l.msg.startsWith('epoch 1 of')));

  const results: Fault[] = [];
  try {
    for (const kind of ['kill', 'stop'] as const) {
      for (let n = 0; n < faults; n++) {
        // A few steps between faults, so each recovery is measured from a run in full swing.
        const committed = async (): Promise<number> => (await readFile(stepLog, 'utf8')).split('\n').length;
        const before = await committed();
        await until('a few steps commit', async () => (await committed()) >= before + 3);
        const ids = [...workers.keys()];
        const victim = ids[(n % (ids.length - 1)) + 1] as string;
        const process_ = workers.get(victim) as ChildProcess;
        const recoveries = readyCount();
        const lines = log().length;
        const atMs = Date.now();
        process_.kill(kind === 'kill' ? 'SIGKILL' : 'SIGSTOP');
        await until(`the coordinator notices ${victim}`, () => log().slice(lines).some((l) => l.msg.startsWith(`worker ${victim} (`) && l.msg.includes(' left ')));
        const detected = log().slice(lines).find((l) => l.msg.startsWith(`worker ${victim} (`) && l.msg.includes(' left ')) as LogLine;
        await until('training goes on', () => readyCount() > recoveries);
        const resumed = log().filter((l) => l.msg.startsWith('recovered: training goes on'))[recoveries] as LogLine;
        const discarded = log().slice(lines).filter((l) => l.time <= resumed.time && l.msg.includes('discarded, its samples are dealt out again')).length;
        results.push({ kind, atMs, detectedMs: detected.time, resumedMs: resumed.time, discarded });
        // Back to three workers before the next fault.
        const fullBefore = fullGenerations();
        if (kind === 'kill') {
          workers.delete(victim);
          start();
        } else {
          process_.kill('SIGCONT');
        }
        await until('the third worker is back', () => fullGenerations() > fullBefore);
        process.stderr.write(`${kind} ${n + 1}/${faults}: detected in ${detected.time - atMs} ms, training again ${resumed.time - detected.time} ms later\n`);
      }
    }
  } catch (error) {
    process.stderr.write(`the bench failed; the workers' logs are in ${dir}\n`);
    throw error;
  } finally {
    coordinator.kill('SIGINT');
    await coordinator.exited;
    for (const w of workers.values()) w.kill('SIGKILL');
  }

  // Samples of every epoch that finished: each trained exactly once.
  const steps = await readCommittedSteps(stepLog);
  const lastEpoch = Math.max(...steps.map((s) => s.epoch));
  let lost = 0;
  let doubled = 0;
  for (let epoch = 0; epoch < lastEpoch; epoch++) {
    const counts = sampleCounts(steps, epoch);
    lost += TRAIN - counts.size;
    for (const c of counts.values()) if (c > 1) doubled += c - 1;
  }
  await rm(dir, { recursive: true, force: true });

  const stats = (xs: number[]): { median: number; max: number } => {
    const sorted = [...xs].sort((a, b) => a - b);
    return { median: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN, max: sorted[sorted.length - 1] ?? Number.NaN };
  };
  const rows = (['kill', 'stop'] as const).map((kind) => {
    const of = results.filter((r) => r.kind === kind);
    return {
      kind,
      faults: of.length,
      detect: stats(of.map((r) => r.detectedMs - r.atMs)),
      resume: stats(of.map((r) => r.resumedMs - r.detectedMs)),
      discarded: of.reduce((s, r) => s + r.discarded, 0),
    };
  });
  const report = { model: values.model, width: Number(values.width), heartbeatTimeoutMs, epochsChecked: lastEpoch, samplesLost: lost, samplesDoubled: doubled, rows };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const ms = (n: number): string => (Number.isFinite(n) ? n.toFixed(0) : 'n/a');
  const header = ['fault', 'faults', 'detect ms (median)', 'detect ms (max)', 'resume ms (median)', 'resume ms (max)', 'steps discarded'];
  const body = rows.map((r) => [r.kind === 'kill' ? 'SIGKILL' : `SIGSTOP > ${heartbeatTimeoutMs} ms`, String(r.faults), ms(r.detect.median), ms(r.detect.max), ms(r.resume.median), ms(r.resume.max), String(r.discarded)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]?.length ?? 0)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  process.stdout.write(`${line(header)}\n${body.map(line).join('\n')}\n`);
  process.stdout.write(`${values.model} ×${values.width}, 3 workers; samples of the ${lastEpoch} finished epoch(s): ${lost} lost, ${doubled} doubled\n`);
}

await main();

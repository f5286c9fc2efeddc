/**
 * `npm run bench:cluster`: a cluster on this machine. Each host is a network namespace with a
 * veth link to one bridge, shaped to a rate each way (`tc qdisc tbf`), with a one-way delay added
 * by a relay in front of the host's peer port (this kernel has no `netem`): the worker's peer
 * server listens on the host's loopback and advertises the host's address, where the relay
 * listens. A coordinator runs on a host of its own (its link is not shaped: it is the control
 * plane, and the state it sends at the start is not what is measured) and one worker per host.
 *
 * For each link, model and world size it prints examples/s, the step split (compute, exposed
 * all-reduce, waiting), the bytes each worker sent per step (its veth's counter: all it sent,
 * chunk framing and TCP/IP headers included), the scaling efficiency against one worker of the
 * same kind, and the cost model's prediction for the row with its error. Rows marked `stand-in`
 * replace the model's compute by a declared wait (`ringtrain worker --stand-in-compute-ms`),
 * standing in for an accelerator, so that the hosts, which share this machine's cores, measure
 * the network; rows marked `real` run the model on those shared cores.
 *
 * Options (defaults): --models resnet18,resnet50,resnet152 --hosts 1,2,4 --rate-gbit 1,10
 *   --delay-ms 0.2,0.05 (one per rate) --steps 12 --batch-per-worker 32 --image-size 28
 *   --stand-in-compute-ms resnet18=50,resnet50=120,resnet152=250 --real-compute-models resnet18
 *   (real rows on the first link only; "none" for none) --compressions bf16 (rows with the run
 *   option --compression, from two hosts up, where the coordinator offers it) --max-bucket-bytes
 *   26214400 --overlap (rows with the run option --overlap, for the real-compute models only:
 *   a stand-in has no backward pass to overlap) --json (the measurements and predictions as
 *   JSON) --reprint FILE (no runs: the table of a saved --json report, predicted again by the
 *   current cost model) --fit (fit this machine's per-message cost, shared transport and shared
 *   codec to the rows of several hosts, overlap rows aside, and predict with them instead of the
 *   constants shipped; see `plan/calibration-fit.ts`) --hold-out MODELS (with --fit: leave these
 *   models' rows out of the fit and report how well the fit predicts them)
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readSummary } from '../test/launch-helpers.ts';
import { namespacesUnavailable, TestNetwork, type HostProcess } from '../test/support/network-hosts.ts';
import { until } from '../test/support/worker-processes.ts';
import { predictStep } from '../src/plan/cost-model.ts';
import { REFERENCE_COMPUTE_MS, THIS_MACHINE_CLUSTER } from '../src/plan/calibration.ts';
import { fitSharedCalibration, type CalibrationFit, type FittedConstant, type MeasuredStep } from '../src/plan/calibration-fit.ts';
import type { TransportCalibration } from '../src/plan/cost-model.ts';
import { gradientBytesOf } from '../src/plan/gradient-bytes.ts';
import { benchArguments } from './bench-arguments.ts';
import { availableCompressions, compressionRatioOf } from './compression-option.ts';
import { markdownTable } from './markdown-table.ts';
import type { RunSummary } from '../src/index.ts';

const RELAY = fileURLToPath(new URL('./relay-process.ts', import.meta.url));
const TOKEN = 'cluster-bench-token-0123456789abcdef';
const COORDINATOR_PORT = 7070;
const PEER_PORT = 7100;
/** A row that takes longer has hung: its processes' output is printed and the bench fails. */
const ROW_TIMEOUT_MS = 300_000;
const MODEL_DEPTHS = { resnet18: 18, resnet34: 34, resnet50: 50, resnet101: 101, resnet152: 152 } as const;
type ModelName = keyof typeof MODEL_DEPTHS;

const USAGE = `usage: npm run -s bench:cluster -- [--models resnet18,resnet50,resnet152] [--hosts 1,2,4]
         [--rate-gbit 1,10] [--delay-ms 0.2,0.05] [--steps 12] [--batch-per-worker 32] [--image-size 28]
         [--stand-in-compute-ms resnet18=50,...] [--real-compute-models resnet18|none] [--compressions bf16]
         [--max-bucket-bytes 26214400] [--overlap] [--json]
       npm run -s bench:cluster -- --reprint FILE [--fit [--hold-out MODELS]] [--json]
  --reprint FILE     no runs: the table of a report saved with --json, predicted by the current cost model
  --fit              fit this machine's per-message cost, shared transport and shared codec to the rows of
                     several hosts (overlap rows aside) and predict with them instead of the shipped constants
  --hold-out MODELS  with --fit: leave these models' rows out of the fit and report how well it predicts them
The module comment of packages/cli/bench/cluster-bench.ts says what each row measures.`;

const { fail, positive } = benchArguments('bench:cluster');
/** The flags given, or a refusal naming the unknown or malformed one. */
function parseFlags() {
  try {
    return parseArgs({
      options: {
        models: { type: 'string', default: 'resnet18,resnet50,resnet152' },
        hosts: { type: 'string', default: '1,2,4' },
        'rate-gbit': { type: 'string', default: '1,10' },
        'delay-ms': { type: 'string', default: '0.2,0.05' },
        steps: { type: 'string', default: '12' },
        'batch-per-worker': { type: 'string', default: '32' },
        'image-size': { type: 'string', default: '28' },
        'stand-in-compute-ms': { type: 'string', default: Object.entries(REFERENCE_COMPUTE_MS).map(([m, ms]) => `${m}=${ms}`).join(',') },
        'real-compute-models': { type: 'string', default: 'resnet18' },
        'max-bucket-bytes': { type: 'string', default: String(25 * 1024 * 1024) },
        compressions: { type: 'string', default: 'bf16' },
        overlap: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        reprint: { type: 'string' },
        fit: { type: 'boolean', default: false },
        'hold-out': { type: 'string', default: '' },
        help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (error) {
    return fail(`${(error as Error).message}\n${USAGE}`);
  }
}
const values = parseFlags();
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const list = (text: string | undefined): string[] => (text ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
function modelName(flag: string, text: string): ModelName {
  if (!(text in MODEL_DEPTHS)) fail(`${flag}: unknown model ${text} (one of ${Object.keys(MODEL_DEPTHS).join(', ')})`);
  return text as ModelName;
}

const models = list(values.models).map((m) => modelName('--models', m));
const hostCounts = list(values.hosts).map((h) => positive('--hosts', h, true));
const rates = list(values['rate-gbit']).map((r) => positive('--rate-gbit', r, false));
const delays = list(values['delay-ms']).map((d) => {
  const value = Number(d);
  if (!Number.isFinite(value) || value < 0) fail(`--delay-ms must be numbers of at least 0, got ${d}`);
  return value;
});
if (rates.length !== delays.length) fail(`--rate-gbit has ${rates.length} values and --delay-ms ${delays.length}: give one delay per rate`);
const steps = positive('--steps', values.steps, true);
const batchPerWorker = positive('--batch-per-worker', values['batch-per-worker'], true);
const imageSize = positive('--image-size', values['image-size'], true);
const maxBucketBytes = positive('--max-bucket-bytes', values['max-bucket-bytes'], true);
const standInMs = new Map<ModelName, number>();
for (const pair of list(values['stand-in-compute-ms'])) {
  const [name, ms] = pair.split('=');
  standInMs.set(modelName('--stand-in-compute-ms', name ?? ''), positive('--stand-in-compute-ms', ms ?? '', false));
}
for (const m of models) if (!standInMs.has(m)) fail(`--stand-in-compute-ms gives no time for ${m}`);
const realModels = values['real-compute-models'] === 'none' ? [] : list(values['real-compute-models']).map((m) => modelName('--real-compute-models', m));
const heldOut = list(values['hold-out']).map((m) => modelName('--hold-out', m));
if (heldOut.length > 0 && !values.fit) fail('--hold-out names the models --fit leaves out: give --fit as well');

type Compute = { kind: 'stand-in'; ms: number } | { kind: 'real' };

/** What one run measured. */
interface RowRun {
  model: ModelName;
  compute: Compute;
  compression: string;
  /** Whether the run overlapped its all-reduce with the backward pass (`--overlap`). */
  overlap: boolean;
  hosts: number;
  imageSize: number;
  maxBucketBytes: number;
  steps: number;
  examplesPerSecond: number;
  stepMs: number;
  computeMs: number;
  allReduceMs: number;
  waitMs: number;
  sentBytesPerStep: number;
}

/** A run with its link. */
interface Measured extends RowRun {
  rateGbit: number;
  delayMs: number;
  /** The relays' mean hold over the link's runs (the delay achieved). */
  relayMeanHoldMs: number;
}

/** A run with the cost model's prediction beside it. */
interface Row extends Measured {
  scalingEfficiency: number;
  predictedStepMs: number;
  predictedEfficiency: number;
  errorRatio: number;
}

/**
 * The cost model's prediction for each row. It is given the row's own measured compute (compute
 * is an input of the model, and on shared cores it grows with the hosts that share them) and
 * predicts the communication; efficiency is against one worker of the same model, compute kind
 * and link.
 */
function predictRows(runs: Measured[], calibration: TransportCalibration): Row[] {
  return runs.map((row) => {
    const one = runs.find((r) => r.rateGbit === row.rateGbit && r.delayMs === row.delayMs && r.model === row.model && r.compute.kind === row.compute.kind && r.compression === 'none' && r.overlap !== true && r.hosts === 1);
    const input = stepInputOf(row);
    const predicted = input === undefined ? { stepMs: Number.NaN } : predictStep({ ...input, calibration });
    return {
      ...row,
      scalingEfficiency: one === undefined ? Number.NaN : row.examplesPerSecond / (row.hosts * one.examplesPerSecond),
      predictedStepMs: predicted.stepMs,
      predictedEfficiency: one === undefined ? Number.NaN : one.stepMs / predicted.stepMs,
      errorRatio: predicted.stepMs / row.stepMs - 1,
    };
  });
}


async function runRow(network: TestNetwork, model: ModelName, compute: Compute, variant: Variant, hosts: number, dir: string): Promise<RowRun> {
  const { compression, overlap } = variant;
  const coordinator = network.hosts[0]!;
  const workers = network.hosts.slice(1, 1 + hosts);
  const env = { ...process.env, RINGTRAIN_TOKEN: TOKEN };
  const summaryPath = join(dir, `${model}-${compute.kind}-${compression}${overlap ? '-overlap' : ''}-${hosts}.json`);
  const global = batchPerWorker * hosts;
  const sentBefore = workers.map((w) => network.sentBytes(w.name));
  const processes: HostProcess[] = [];
  try {
    const server = network.ringtrain(coordinator.name, [
      'coordinator', '--host', coordinator.address, '--port', String(COORDINATOR_PORT),
      '--min-workers', String(hosts), '--max-workers', String(hosts), '--rendezvous-settle-ms', '0',
      '--model', model, '--stem', 'd2l', '--image-size', String(imageSize), '--batch-size', String(global),
      '--epochs', '1', '--limit-train', String(global * steps), '--limit-test', '0', '--checksum-every', '0',
      '--max-bucket-bytes', String(maxBucketBytes), '--no-memory-check', '--summary-json', summaryPath, '--log-level', 'warn',
      ...(compression === 'none' ? [] : ['--compression', compression]),
      ...(overlap ? ['--overlap'] : []),
    ], env);
    processes.push(server);
    await until('the coordinator listens', () => server.output().includes('coordinator listening on'), 120_000);
    for (const w of workers) {
      processes.push(network.ringtrain(w.name, [
        'worker', '--coordinator', `ws://${coordinator.address}:${COORDINATOR_PORT}`, '--worker-id', w.name,
        '--peer-host', '127.0.0.1', '--peer-port', String(PEER_PORT), '--advertise-host', w.address,
        '--metrics-port', '0', '--log-level', 'warn', '--no-memory-check', '--workers-per-machine', String(hosts),
        ...(compute.kind === 'stand-in' ? ['--stand-in-compute-ms', String(compute.ms)] : []),
      ], env));
    }
    // A worker that fails leaves the coordinator waiting for a replacement: end the row at once.
    const workerFailed = processes.slice(1).map((p) => p.exited.then((c) => (c === 0 ? new Promise<never>(() => {}) : p)));
    const ended = await Promise.race([
      server.exited.then((c) => ({ kind: 'exited' as const, code: c })),
      ...workerFailed.map((w) => w.then((p) => ({ kind: 'worker-failed' as const, output: p.output() }))),
      new Promise<{ kind: 'timeout' }>((resolve) => setTimeout(() => resolve({ kind: 'timeout' }), ROW_TIMEOUT_MS).unref()),
    ]);
    const what = `the ${hosts}-host ${model} ${compute.kind} run${variantLabel(variant, ' with ')}`;
    if (ended.kind === 'worker-failed') throw new RowFailedError(`${what}: a worker failed: ${lastLine(ended.output)}`, processes.map((p) => p.output()).join('\n'));
    if (ended.kind === 'timeout') throw new RowFailedError(`${what} did not end within ${ROW_TIMEOUT_MS} ms`, processes.map((p) => p.output()).join('\n'));
    if (ended.code !== 0) throw new RowFailedError(`${what} failed (exit ${String(ended.code)})`, processes.map((p) => p.output()).join('\n'));
    await Promise.all(processes.slice(1).map((p) => p.exited));
    const s: RunSummary = await readSummary(summaryPath);
    const sent = workers.map((w, i) => network.sentBytes(w.name) - (sentBefore[i] ?? 0));
    return {
      model,
      compute,
      compression,
      overlap,
      hosts,
      imageSize,
      maxBucketBytes,
      steps: s.steps,
      examplesPerSecond: s.examplesPerSecond,
      stepMs: (s.globalBatchSize / s.examplesPerSecond) * 1000,
      computeMs: s.meanComputeMs,
      allReduceMs: s.meanAllReduceMs,
      waitMs: s.meanWaitMs,
      sentBytesPerStep: sent.reduce((a, b) => a + b, 0) / workers.length / Math.max(1, s.steps),
    };
  } finally {
    for (const p of processes) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  }
}

/** What a row changes from the plain all-reduce: a compression, or the overlap with the backward pass. */
interface Variant {
  compression: string;
  overlap: boolean;
}

function variantLabel(v: Variant, prefix: string): string {
  if (v.overlap) return `${prefix}--overlap`;
  return v.compression === 'none' ? '' : `${prefix}--compression ${v.compression}`;
}

class RowFailedError extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(message);
  }
}

/** The last line a process printed that says something (its error). */
function lastLine(output: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines.at(-1) ?? '(nothing printed)';
}

async function startRelay(network: TestNetwork, name: string, address: string, delayMs: number): Promise<{ stop(): Promise<{ meanHoldMs: number }> }> {
  const child = network.spawn(name, process.execPath, ['--import', 'tsx', RELAY, `${address}:${PEER_PORT}`, `127.0.0.1:${PEER_PORT}`, String(delayMs)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await until(`the relay on ${name} listens`, () => output.includes('listening'), 60_000);
  return {
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      const line = output.split('\n').find((l) => l.startsWith('{'));
      return line === undefined ? { meanHoldMs: Number.NaN } : (JSON.parse(line) as { meanHoldMs: number });
    },
  };
}

/** The cost model's inputs for a row, or undefined when its compression ratio depends on more than its name. */
function stepInputOf(row: Measured): MeasuredStep['input'] | undefined {
  const compressionRatio = compressionRatioOf(row.compression);
  if (Number.isNaN(compressionRatio)) return undefined;
  return {
    computeMs: row.computeMs,
    gradientBytes: gradientBytesOf({ depth: MODEL_DEPTHS[row.model], stem: 'd2l', widthMultiplier: 1, imageSize: row.imageSize }),
    worldSize: row.hosts,
    linkBitsPerSecond: row.rateGbit * 1e9,
    latencyMs: row.delayMs,
    maxBucketBytes: row.maxBucketBytes,
    overlap: row.overlap === true ? 1 : 0,
    compressionRatio,
    convertsValues: row.compression === 'bf16' || row.compression === 'f16',
  };
}

/**
 * What a row is to `--fit`: `fitted` for rows of several hosts (one host sends nothing), not
 * overlapped (the model's full overlap is known to fall short on shared cores, where the
 * all-reduce slows the backward pass it hides behind) and of a known compression ratio;
 * `held out` for such rows of a `--hold-out` model, on which the fit is checked; `other` else.
 */
type FitRole = 'fitted' | 'held out' | 'other';

function fitRoleOf(row: Measured): FitRole {
  if (row.hosts === 1 || row.overlap === true || stepInputOf(row) === undefined) return 'other';
  return heldOut.includes(row.model) ? 'held out' : 'fitted';
}

/** This machine's constants: fitted to the report's rows with `--fit`, else those shipped. */
function calibrationFor(runs: Measured[], roles: FitRole[]): { calibration: TransportCalibration; fit?: CalibrationFit } {
  if (!values.fit) return { calibration: THIS_MACHINE_CLUSTER };
  const fitted = runs.filter((_, i) => roles[i] === 'fitted');
  const outside = heldOut.length === 0 ? '' : ` outside --hold-out ${heldOut.join(',')}`;
  if (fitted.length === 0) fail(`--fit: the report has no row of several hosts${outside}, without overlap and of a known compression ratio, to fit to`);
  for (const model of heldOut) {
    if (!runs.some((row, i) => row.model === model && roles[i] === 'held out')) fail(`--hold-out ${model}: the report has no row of several hosts of ${model} to check the fit on`);
  }
  const fit = fitSharedCalibration(
    fitted.map((row) => ({ input: stepInputOf(row) as MeasuredStep['input'], stepMs: row.stepMs })),
    THIS_MACHINE_CLUSTER,
  );
  return { calibration: fit.calibration, fit };
}

interface Failure {
  rateGbit: number;
  model: ModelName;
  compute: Compute;
  compression: string;
  overlap: boolean;
  hosts: number;
  reason: string;
}

/** What a whole bench run measured; `--json` prints it with the predictions, `--reprint` reads it back. */
interface Report {
  batchPerWorker: number;
  imageSize: number;
  steps: number;
  maxBucketBytes: number;
  compressions: string[] | 'not available';
  wallSeconds: number;
  measured: Measured[];
  failures: Failure[];
}

async function measureAll(): Promise<Report> {
  const unavailable = namespacesUnavailable();
  if (unavailable !== null) fail(`needs network namespaces: ${unavailable}`);
  const offered = await availableCompressions();
  // Compressed rows run only where the coordinator offers the method; an empty list means the option does not exist yet.
  const compressions = offered.length === 0 ? [] : list(values.compressions).filter((c) => c !== 'none').map((c) => {
    if (!offered.includes(c)) fail(`--compressions: ${c} is not one of the coordinator's --compression choices (${offered.join(', ')})`);
    return c;
  });
  const measured: Measured[] = [];
  const failures: Failure[] = [];
  const startedAt = Date.now();
  const dir = await mkdtemp(join(tmpdir(), 'ringtrain-cluster-'));
  const maxHosts = Math.max(...hostCounts);
  try {
    for (const [linkIndex, rateGbit] of rates.entries()) {
      const delayMs = delays[linkIndex] as number;
      const network = new TestNetwork(`rtc${process.pid % 1000}`);
      // Interrupted, the bench still removes its namespaces (the relays end with their stdin).
      const onSignal = (): void => {
        network.destroy();
        process.exit(130);
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        network.addHost('coord');
        for (let i = 0; i < maxHosts; i++) {
          const host = network.addHost(`w${i}`);
          network.shapeLink(host.name, rateGbit * 1e9);
        }
        const relays = await Promise.all(network.hosts.slice(1).map((h) => startRelay(network, h.name, h.address, delayMs)));
        const linkRows: RowRun[] = [];
        for (const model of models) {
          const kinds: Compute[] = [{ kind: 'stand-in', ms: standInMs.get(model) as number }, ...(linkIndex === 0 && realModels.includes(model) ? [{ kind: 'real' as const }] : [])];
          for (const compute of kinds) {
            const variants: Variant[] = [
              { compression: 'none', overlap: false },
              ...compressions.map((compression) => ({ compression, overlap: false })),
              ...(values.overlap && compute.kind === 'real' ? [{ compression: 'none', overlap: true }] : []),
            ];
            for (const variant of variants) {
              const { compression } = variant;
              const plain = compression === 'none' && !variant.overlap;
              // One host all-reduces nothing: compressed and overlapped rows start at two, against the same one-host row.
              for (const hosts of hostCounts.filter((h) => plain || h > 1)) {
                const progress = `  ${rateGbit} Gbit/s ${model} ${compute.kind} ${variant.overlap ? 'overlap' : compression} ${hosts} host(s)`;
                try {
                  const row = await runRow(network, model, compute, variant, hosts, dir);
                  linkRows.push(row);
                  process.stderr.write(`${progress}: ${row.examplesPerSecond.toFixed(1)} examples/s, step ${row.stepMs.toFixed(0)} ms = compute ${row.computeMs.toFixed(0)} + all-reduce ${row.allReduceMs.toFixed(0)} + waiting ${row.waitMs.toFixed(0)} (${((Date.now() - startedAt) / 1000).toFixed(0)} s in)\n`);
                } catch (error) {
                  if (!(error instanceof RowFailedError) || plain) {
                    if (error instanceof RowFailedError) process.stderr.write(`${error.output}\n`);
                    throw error;
                  }
                  failures.push({ rateGbit, model, compute, compression, overlap: variant.overlap, hosts, reason: error.message });
                  process.stderr.write(`${progress}: FAILED, ${error.message}\n`);
                }
              }
            }
          }
        }
        const holds = await Promise.all(relays.map((r) => r.stop()));
        const relayMeanHoldMs = holds.reduce((a, h) => a + h.meanHoldMs, 0) / holds.length;
        measured.push(...linkRows.map((row) => ({ ...row, rateGbit, delayMs, relayMeanHoldMs })));
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        network.destroy();
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { batchPerWorker, imageSize, steps, maxBucketBytes, compressions: offered.length === 0 ? 'not available' : compressions, wallSeconds: (Date.now() - startedAt) / 1000, measured, failures };
}

/**
 * A report saved with `--json`. `npm run` without `-s` writes its banner to stdout first, into
 * the file: the report starts at the first line that opens an object.
 */
function readReport(path: string): Report {
  const text = readFileSync(path, 'utf8');
  const start = text.search(/^\{/m);
  if (start < 0) fail(`--reprint ${path}: no JSON report in the file (save one with npm run -s bench:cluster -- --json > FILE)`);
  try {
    // Only what was measured: the predictions and any fit of the saved report are made again.
    const { rows: _rows, fit: _fit, ...measured } = JSON.parse(text.slice(start)) as Report & { rows?: unknown; fit?: unknown };
    return measured;
  } catch (error) {
    return fail(`--reprint ${path}: the report is not valid JSON: ${(error as Error).message}`);
  }
}

const report: Report = values.reprint === undefined ? await measureAll() : readReport(values.reprint);
const roles = report.measured.map(fitRoleOf);
const { calibration, fit } = calibrationFor(report.measured, roles);
const rows = predictRows(report.measured, calibration);
const { failures } = report;
if (values.json) {
  const reported = fit === undefined ? { ...report, rows } : { ...report, rows: rows.map((row, i) => ({ ...row, fitRole: roles[i] })), fit: { ...fit, heldOut } };
  // A calibration without a bound holds Infinity, which JSON would write as null.
  process.stdout.write(`${JSON.stringify(reported, (_key, value: unknown) => (value === Number.POSITIVE_INFINITY ? 'Infinity' : value), 2)}\n`);
} else {
  const header = ['link', 'model', 'compute', 'compression', 'hosts', 'examples/s', 'step ms', 'compute ms', 'exposed comm ms', 'waiting ms', 'sent MB/step', 'efficiency', 'predicted step ms', 'predicted eff.', 'error'];
  const table = rows.map((r) => [
    `${r.rateGbit} Gbit/s ${r.delayMs} ms (held ${r.relayMeanHoldMs.toFixed(2)})`,
    r.model,
    r.compute.kind === 'stand-in' ? `stand-in ${r.compute.ms} ms` : 'real, shared cores',
    r.overlap === true ? 'none, --overlap' : report.compressions === 'not available' ? 'not available' : r.compression,
    String(r.hosts),
    r.examplesPerSecond.toFixed(1),
    r.stepMs.toFixed(0),
    r.computeMs.toFixed(0),
    r.allReduceMs.toFixed(0),
    r.waitMs.toFixed(0),
    (r.sentBytesPerStep / 1e6).toFixed(1),
    Number.isNaN(r.scalingEfficiency) ? 'n/a' : r.scalingEfficiency.toFixed(2),
    Number.isNaN(r.predictedStepMs) ? 'n/a' : r.predictedStepMs.toFixed(0),
    Number.isNaN(r.predictedEfficiency) ? 'n/a' : r.predictedEfficiency.toFixed(2),
    Number.isNaN(r.errorRatio) ? 'n/a' : `${(r.errorRatio * 100).toFixed(1)}%`,
  ]);
  process.stdout.write(`bench:cluster: ${report.batchPerWorker} examples per worker per step, ${report.imageSize}×${report.imageSize}, d2l stem, ${report.steps} steps per row, buckets of ${report.maxBucketBytes} B; measured columns, then the cost model's (predicted, error = predicted/measured − 1); ${report.wallSeconds.toFixed(0)} s\n`);
  if (fit !== undefined) {
    header.push('in fit');
    table.forEach((cells, i) => cells.push(roles[i] === 'fitted' ? 'yes' : roles[i] === 'held out' ? 'held out' : 'no'));
  }
  process.stdout.write(markdownTable(header, table));
  if (fit !== undefined) printFit(fit, rows.filter((_, i) => roles[i] === 'fitted').length, rows.filter((_, i) => roles[i] === 'held out'));
  for (const f of failures) process.stdout.write(`not measured: ${f.rateGbit} Gbit/s ${f.model} ${f.compute.kind}${variantLabel({ compression: f.compression, overlap: f.overlap === true }, ' ')} on ${f.hosts} hosts: ${f.reason}\n`);
  // What the overlap hides: its exposed communication against the plain row's whole all-reduce.
  for (const r of rows.filter((row) => row.overlap === true)) {
    const plain = rows.find((p) => p.overlap !== true && p.compression === 'none' && p.rateGbit === r.rateGbit && p.delayMs === r.delayMs && p.model === r.model && p.compute.kind === r.compute.kind && p.hosts === r.hosts);
    if (plain === undefined) continue;
    process.stdout.write(
      `overlap, ${r.rateGbit} Gbit/s ${r.model} ${r.hosts} hosts: exposed all-reduce ${r.allReduceMs.toFixed(0)} ms of the plain row's ${plain.allReduceMs.toFixed(0)} ms (${((100 * r.allReduceMs) / plain.allReduceMs).toFixed(0)}%), step ${r.stepMs.toFixed(0)} against ${plain.stepMs.toFixed(0)} ms\n`,
    );
  }
}

/** The constants `--fit` found, and how far the rows it fitted and those it held out fall from them. */
function printFit(found: CalibrationFit, fittedRows: number, held: Row[]): void {
  const c = found.calibration;
  const shipped = THIS_MACHINE_CLUSTER;
  const note = (name: FittedConstant): string =>
    found.notFitted.includes(name) ? ' (not fitted: no row converts values)' : found.atEdge.includes(name) ? " (at the grid's edge: the best may lie beyond)" : '';
  const gb = (bytesPerSecond: number): string => (bytesPerSecond / 1e9).toFixed(2);
  const largest = Math.max(...held.map((r) => Math.abs(r.errorRatio)));
  const within = held.filter((r) => Math.abs(r.errorRatio) <= 0.15).length;
  process.stdout.write(
    `fitted to ${fittedRows} rows: ${c.perMessageMs} ms per message${note('perMessageMs')}, ` +
      `shared transport ${gb(c.sharedThroughputBytesPerSecond)} GB/s${note('sharedThroughputBytesPerSecond')}, ` +
      `shared codec ${gb(c.sharedCodecThroughputBytesPerSecond)} GB/s${note('sharedCodecThroughputBytesPerSecond')} ` +
      `(shipped: ${shipped.perMessageMs} ms, ${gb(shipped.sharedThroughputBytesPerSecond)}, ${gb(shipped.sharedCodecThroughputBytesPerSecond)}); ` +
      `largest error on the fitted rows ${(100 * found.largestError).toFixed(2)}%` +
      (held.length === 0 ? '\n' : `; held out (${heldOut.join(', ')}): ${within} of ${held.length} within 15%, largest ${(100 * largest).toFixed(1)}%\n`),
  );
}

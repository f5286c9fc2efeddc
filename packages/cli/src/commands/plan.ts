/**
 * `ringtrain plan`: the cost model's predicted step time and scaling efficiency for ResNets on
 * clusters of given sizes and links, without running anything (see `plan/cost-model.ts`).
 */
import { Command, InvalidArgumentError as OptionValueError, Option } from 'commander';
import type { ResNetDepth } from '@ringtrain/model';
import { integerIn, numberIn } from '../arguments.ts';
// Not commander's: main prints these, where a CommanderError thrown from an action goes unprinted.
import { InvalidArgumentError } from '../errors.ts';
import { DEFAULT_CALIBRATION, REFERENCE_COMPUTE_MS } from '../plan/calibration.ts';
import { predictStep, type StepCost } from '../plan/cost-model.ts';
import { gradientBytesOf } from '../plan/gradient-bytes.ts';

const MODEL_DEPTHS: Record<string, ResNetDepth> = { resnet18: 18, resnet34: 34, resnet50: 50, resnet101: 101, resnet152: 152 };

export interface PlanFlags {
  models: string[];
  workers: number[];
  linkGbit: number[];
  latencyMs: number;
  computeMs: Map<string, number>;
  stem: 'd2l' | 'small' | 'compact';
  width: number;
  imageSize: number;
  maxBucketBytes: number;
  overlap: number[];
  compressionRatio: number;
  /** A 16-bit wire format (bf16, f16): ratio 2, and every value converted on the way. */
  halfPrecision: boolean;
  linkEfficiency: number;
  perMessageMs: number;
  workersPerHost: number;
  ringOrder: 'hosts' | 'joined';
  json: boolean;
}

/** Parses a comma-separated list with `item`. */
function listOf<T>(item: (text: string) => T): (text: string) => T[] {
  return (text) => {
    const items = text.split(',').map((s) => s.trim());
    if (items.some((s) => s === '')) throw new OptionValueError('Expected a comma-separated list without empty items.');
    return items.map(item);
  };
}

function modelName(text: string): string {
  if (!(text in MODEL_DEPTHS)) throw new OptionValueError(`Expected models among ${Object.keys(MODEL_DEPTHS).join(', ')}.`);
  return text;
}

function computeTimes(text: string): Map<string, number> {
  const times = new Map<string, number>();
  for (const pair of text.split(',')) {
    const [name, ms] = pair.split('=').map((s) => s.trim());
    times.set(modelName(name ?? ''), numberIn(0, Number.POSITIVE_INFINITY, { exclusiveMin: true })(ms ?? ''));
  }
  return times;
}

const DEFAULT_COMPUTE = Object.entries(REFERENCE_COMPUTE_MS).map(([m, ms]) => `${m}=${ms}`).join(',');

export function planCommand(): Command {
  return new Command('plan')
    .description('predict step time and scaling efficiency of ResNet training on a cluster from the cost model (nothing is run)')
    .addOption(new Option('--models <list>', 'ResNets to plan for').argParser(listOf(modelName)).default(['resnet18', 'resnet50', 'resnet152'], 'resnet18,resnet50,resnet152'))
    .addOption(new Option('--workers <list>', 'world sizes').argParser(listOf(integerIn(1, 1 << 20))).default([8, 16, 64], '8,16,64'))
    .addOption(new Option('--link-gbit <list>', 'link rates of every host, Gbit/s each way').argParser(listOf(numberIn(0, Number.POSITIVE_INFINITY, { exclusiveMin: true }))).default([1, 10, 100], '1,10,100'))
    .addOption(new Option('--latency-ms <ms>', 'one-way latency of a hop').argParser(numberIn(0)).default(0.05))
    .addOption(new Option('--compute-ms <list>', 'one worker\'s compute per step, per model (MODEL=MS,...; measure it with a one-worker run)').argParser(computeTimes).default(computeTimes(DEFAULT_COMPUTE), DEFAULT_COMPUTE))
    .addOption(new Option('--stem <stem>', 'stem of the ResNets (it changes the gradient size)').choices(['d2l', 'small', 'compact']).default('d2l'))
    .addOption(new Option('--width <factor>', 'width multiplier of every stage').argParser(numberIn(0, 8, { exclusiveMin: true })).default(1))
    .addOption(new Option('--image-size <px>', 'input side (the flat vector does not depend on it; kept for the model description)').argParser(integerIn(8, 1024)).default(28))
    .addOption(new Option('--max-bucket-bytes <n>', 'gradient bucket cap of the ring all-reduce').argParser(integerIn(4)).default(25 * 1024 * 1024))
    .addOption(new Option('--overlap <list>', 'fractions of the all-reduce hidden behind compute: 0 none, 1 all but the last bucket').argParser(listOf(numberIn(0, 1))).default([0, 1], '0,1'))
    .addOption(new Option('--compression-ratio <r>', 'uncompressed over compressed bytes, for a compression with no per-value conversion (PowerSGD: gradient bytes over bytes sent)').argParser(numberIn(1)).default(1))
    .addOption(new Option('--half-precision', 'a 16-bit wire format (bf16 or f16): half the bytes, plus the time to convert every value').default(false).conflicts('compressionRatio'))
    .addOption(new Option('--link-efficiency <fraction>', 'fraction of the link rate the ring\'s streams carry (calibrated by bench:cluster)').argParser(numberIn(0, 1, { exclusiveMin: true })).default(DEFAULT_CALIBRATION.linkEfficiency))
    .addOption(new Option('--per-message-ms <ms>', 'fixed cost of one ring message besides latency (calibrated by bench:cluster)').argParser(numberIn(0)).default(DEFAULT_CALIBRATION.perMessageMs))
    .addOption(new Option('--workers-per-host <n>', 'workers on each host, sharing its link (every world size must be a multiple)').argParser(integerIn(1, 1 << 20)).default(1))
    .addOption(new Option('--ring-order <order>', "hosts: a host's workers side by side, one stream per host link; joined: join order, at worst one stream per worker").choices(['hosts', 'joined']).default('hosts'))
    .option('--json', 'print the predictions as JSON', false)
    .action((flags: PlanFlags) => {
      process.stdout.write(formatPlan(flags));
    });
}

interface PlanRow {
  model: string;
  linkGbit: number;
  workers: number;
  gradientBytes: number;
  computeMs: number;
  byOverlap: { overlap: number; cost: StepCost }[];
}

export function planRows(flags: PlanFlags): PlanRow[] {
  const rows: PlanRow[] = [];
  for (const model of flags.models) {
    const computeMs = flags.computeMs.get(model);
    if (computeMs === undefined) throw new InvalidArgumentError(`--compute-ms gives no time for ${model}`);
    const gradientBytes = gradientBytesOf({ depth: MODEL_DEPTHS[model] as ResNetDepth, stem: flags.stem, widthMultiplier: flags.width, imageSize: flags.imageSize });
    for (const linkGbit of flags.linkGbit) {
      for (const workers of flags.workers) {
        const streamsPerLink = streamsPerHostLink(workers, flags.workersPerHost, flags.ringOrder);
        const byOverlap = flags.overlap.map((overlap) => ({
          overlap,
          cost: predictStep({
            computeMs,
            gradientBytes,
            worldSize: workers,
            linkBitsPerSecond: linkGbit * 1e9,
            latencyMs: flags.latencyMs,
            maxBucketBytes: flags.maxBucketBytes,
            overlap,
            compressionRatio: flags.halfPrecision ? 2 : flags.compressionRatio,
            convertsValues: flags.halfPrecision,
            streamsPerLink,
            calibration: { ...DEFAULT_CALIBRATION, linkEfficiency: flags.linkEfficiency, perMessageMs: flags.perMessageMs },
          }),
        }));
        rows.push({ model, linkGbit, workers, gradientBytes, computeMs, byOverlap });
      }
    }
  }
  return rows;
}

/** How many ring hops leave each host over its link (see `plan/cost-model.ts`). */
export function streamsPerHostLink(workers: number, workersPerHost: number, ringOrder: 'hosts' | 'joined'): number {
  if (workers % workersPerHost !== 0) {
    throw new InvalidArgumentError(`--workers ${workers} is not a whole number of hosts of --workers-per-host ${workersPerHost}`);
  }
  if (workers === workersPerHost) return 0;
  return ringOrder === 'hosts' ? 1 : workersPerHost;
}

function formatPlan(flags: PlanFlags): string {
  const rows = planRows(flags);
  if (flags.json) return `${JSON.stringify(rows, null, 2)}\n`;
  const overlapHeads = flags.overlap.flatMap((o) => [`step ms (overlap ${o})`, `efficiency (overlap ${o})`]);
  const header = ['model', 'gradient MB', 'compute ms', 'link Gbit/s', 'workers', 'all-reduce ms', ...overlapHeads];
  const table = rows.map((r) => [
    r.model,
    (r.gradientBytes / 1e6).toFixed(1),
    r.computeMs.toFixed(0),
    String(r.linkGbit),
    String(r.workers),
    (r.byOverlap[0]?.cost.allReduceMs ?? 0).toFixed(0),
    ...r.byOverlap.flatMap(({ cost }) => [cost.stepMs.toFixed(0), cost.scalingEfficiency.toFixed(2)]),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]?.length ?? 0)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const note =
    `predicted by the cost model (nothing was run): latency ${flags.latencyMs} ms per hop, buckets of ${flags.maxBucketBytes} B, ` +
    `${flags.halfPrecision ? 'a 16-bit wire format' : `compression ratio ${flags.compressionRatio}`}, link efficiency ${flags.linkEfficiency}, ${flags.perMessageMs} ms per message` +
    (flags.workersPerHost === 1 ? '' : `, ${flags.workersPerHost} workers per host in ${flags.ringOrder === 'hosts' ? 'host' : 'join'} order`);
  return `${note}\n${line(header)}\n${line(widths.map((w) => '-'.repeat(w)))}\n${table.map(line).join('\n')}\n`;
}

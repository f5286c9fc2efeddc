/**
 * `npm run bench:tta`: time to accuracy. Trains ResNet-18 with `--preset fast` (or another
 * preset) with 2 workers on all 60,000 real Fashion-MNIST images, once per seed, and prints the
 * wall time from the start of training to the first evaluation that reached each target test
 * accuracy, and the final accuracy: mean and spread over the seeds. When PyTorch is installed
 * (Debian's `python3-torch`), PyTorch DDP with as many processes runs the same recipe
 * (`pytorch_tta.py`) in the same run, seed by seed, interleaved with ringtrain's runs.
 *
 * Options: --seeds 3 --preset fast --epochs (the preset's) --workers 2 --targets 0.9,0.913,0.93
 *          --crop-padding PX (the preset's crop padding, for both frameworks)
 *          --ema-decay D --ema-warmup (the preset's weight average, for both frameworks)
 *          --precisions f32,bf16 (ringtrain once per precision and seed, interleaved; default: the
 *          preset's, auto for fast: bf16 where this CPU computes it; PyTorch trains in float32)
 *          --no-torch --json
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readSummary, runRingtrain } from '../test/launch-helpers.ts';
import { PRESET_NAMES, resolveRecipe, type PresetName } from '../src/recipes.ts';
import { PRECISION_CHOICES, type PrecisionChoice } from '../src/precision.ts';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '3' },
    preset: { type: 'string', default: 'fast' },
    epochs: { type: 'string' },
    'crop-padding': { type: 'string' },
    'ema-decay': { type: 'string' },
    'ema-warmup': { type: 'boolean' },
    precisions: { type: 'string' },
    workers: { type: 'string', default: '2' },
    targets: { type: 'string', default: '0.9,0.913,0.93' },
    'no-torch': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});

const seeds = Number(values.seeds);
const workers = Number(values.workers);
if (!Number.isInteger(seeds) || seeds < 1) throw new Error(`--seeds must be a positive integer, got ${values.seeds}`);
if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers must be a positive integer, got ${values.workers}`);
if (!(PRESET_NAMES as readonly string[]).includes(values.preset ?? '')) throw new Error(`--preset must be one of ${PRESET_NAMES.join(', ')}, got ${values.preset}`);
const preset = values.preset as PresetName;
const targets = (values.targets ?? '').split(',').map(Number);
if (targets.some((t) => !(t > 0 && t <= 1))) throw new Error(`--targets must be accuracies in (0, 1], got ${values.targets}`);
const emaDecay = values['ema-decay'] === undefined ? undefined : Number(values['ema-decay']);
if (emaDecay !== undefined && !(emaDecay >= 0 && emaDecay <= 1)) throw new Error(`--ema-decay must be a number in [0, 1], got ${values['ema-decay']}`);
const cropPadding = values['crop-padding'] === undefined ? undefined : Number(values['crop-padding']);
if (cropPadding !== undefined && !(Number.isInteger(cropPadding) && cropPadding >= 0)) throw new Error(`--crop-padding must be a whole number of pixels, got ${values['crop-padding']}`);
const recipe = resolveRecipe(
  {
    ...(values.epochs === undefined ? {} : { epochs: Number(values.epochs) }),
    ...(cropPadding === undefined ? {} : { cropPadding }),
    ...(emaDecay === undefined ? {} : { emaDecay }),
    ...(values['ema-warmup'] === undefined ? {} : { emaWarmup: values['ema-warmup'] }),
  },
  preset,
);
if (recipe.emaWarmup && recipe.emaDecay === 0) throw new Error('--ema-warmup needs --ema-decay above 0');
const PRECISIONS = PRECISION_CHOICES;
type Precision = PrecisionChoice;
const precisions = (values.precisions ?? recipe.precision).split(',') as Precision[];
if (precisions.some((p) => !PRECISIONS.includes(p))) throw new Error(`--precisions must list some of ${PRECISIONS.join(', ')}, got ${values.precisions}`);

interface Run {
  /** 'ringtrain f32', 'ringtrain bf16' or 'pytorch-ddp'. */
  framework: string;
  seed: number;
  testAccuracy: number;
  /** Seconds to each target, null when not reached. */
  toTarget: (number | null)[];
}

async function ringtrainRun(seed: number, precision: Precision): Promise<Run> {
  const dir = await mkdtemp(join(tmpdir(), 'ringtrain-tta-'));
  try {
    const summaryPath = join(dir, 'summary.json');
    const args = ['launch', '--workers', String(workers), '--port', '0', '--preset', preset, '--seed', String(seed), '--target-accuracy', targets.join(','), '--summary-json', summaryPath];
    if (values.epochs !== undefined) args.push('--epochs', values.epochs);
    if (cropPadding !== undefined) args.push('--crop-padding', String(cropPadding));
    if (emaDecay !== undefined) args.push('--ema-decay', String(emaDecay));
    if (values['ema-warmup'] === true) args.push('--ema-warmup');
    args.push('--precision', precision);
    const result = await runRingtrain(args).exited;
    if (result.code !== 0) throw new Error(`ringtrain (seed ${seed}) failed:\n${result.stderr}`);
    const s = await readSummary(summaryPath);
    return {
      // With `auto`, also the precision it resolved to, from the run's summary.
      framework: `ringtrain ${precision === 'auto' ? `auto (${s.precision})` : precision}`,
      seed,
      testAccuracy: s.testAccuracy ?? Number.NaN,
      toTarget: targets.map((t) => s.timeToAccuracy.find((r) => r.target === t)?.wallSeconds ?? null),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const TORCH_SCRIPT = fileURLToPath(new URL('./pytorch_tta.py', import.meta.url));

/** The first Python that imports torch (Debian's python3-torch is in /usr/bin/python3, which a pyenv python3 hides). */
function pythonWithTorch(): string | null {
  return ['python3', '/usr/bin/python3'].find((python) => spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) ?? null;
}

function torchRun(python: string, seed: number): Run {
  const r = recipe;
  const args = [
    TORCH_SCRIPT, '--world', String(workers), '--epochs', String(r.epochs), '--seed', String(seed), '--lr', String(r.lr),
    '--batch-size', String(r.batchSize), '--warmup-epochs', String(r.warmupEpochs), '--momentum', String(r.momentum),
    '--weight-decay', String(r.weightDecay), '--label-smoothing', String(r.labelSmoothing), '--targets', targets.join(','),
    '--stem', r.stem, '--width', String(r.width), '--ema-decay', String(r.emaDecay),
    ...(r.augment ? ['--augment', '--crop-padding', String(r.cropPadding)] : []), ...(r.testTimeFlip ? ['--test-time-flip'] : []), ...(r.zeroInitResidual ? ['--zero-init-residual'] : []),
    ...(r.emaWarmup ? ['--ema-warmup'] : []),
  ];
  const result = spawnSync(python, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (result.status !== 0) throw new Error(`pytorch_tta.py (seed ${seed}) failed:\n${result.stderr}`);
  const out = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as { testAccuracy: number; timeToAccuracy: { target: number; wallSeconds: number }[] };
  return {
    framework: 'pytorch-ddp',
    seed,
    testAccuracy: out.testAccuracy,
    toTarget: targets.map((t) => out.timeToAccuracy.find((x) => x.target === t)?.wallSeconds ?? null),
  };
}

// The PyTorch side builds ResNet-18 with any of the stems and widths, but crops and trains at
// 28×28 only, and takes Nesterov momentum exactly when there is momentum.
const torchMismatch =
  recipe.imageSize !== 28
    ? `pytorch_tta.py trains at 28×28, the recipe at ${recipe.imageSize}×${recipe.imageSize}`
    : recipe.nesterov !== recipe.momentum > 0
      ? `pytorch_tta.py uses Nesterov exactly when momentum is above 0, the recipe has momentum ${recipe.momentum} ${recipe.nesterov ? 'with' : 'without'} Nesterov`
      : null;
const torchFits = torchMismatch === null;
const python = values['no-torch'] || !torchFits ? null : pythonWithTorch();
const withTorch = python !== null;
const runs: Run[] = [];
for (let seed = 0; seed < seeds; seed++) {
  for (const precision of precisions) runs.push(await ringtrainRun(seed, precision));
  if (python !== null) runs.push(torchRun(python, seed));
}

/** Mean ± half the range, or how many of the seeds reached it. */
function spread(xs: (number | null)[]): string {
  const got = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  if (got.length === 0) return 'not reached';
  const mean = got.reduce((a, b) => a + b, 0) / got.length;
  const half = (Math.max(...got) - Math.min(...got)) / 2;
  const missed = xs.length - got.length;
  return `${mean.toFixed(1)} ± ${half.toFixed(1)}${missed > 0 ? ` (${got.length}/${xs.length} seeds)` : ''}`;
}

// In the order they first ran.
const frameworks = [...new Set(runs.map((r) => r.framework))];
const report = {
  preset,
  recipe,
  workers,
  seeds,
  targets,
  torch: withTorch ? 'ran' : values['no-torch'] ? 'skipped (--no-torch)' : torchMismatch !== null ? `not run: ${torchMismatch}` : 'not installed (Debian python3-torch)',
  runs,
};
if (values.json) {
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} else {
  const header = ['framework', ...targets.map((t) => `s to ${t}`), 'final accuracy'];
  const rows = frameworks.map((f) => {
    const mine = runs.filter((r) => r.framework === f);
    const accuracies = mine.map((r) => r.testAccuracy);
    const mean = accuracies.reduce((a, b) => a + b, 0) / accuracies.length;
    const half = (Math.max(...accuracies) - Math.min(...accuracies)) / 2;
    return [f, ...targets.map((_, i) => spread(mine.map((r) => r.toTarget[i] ?? null))), `${mean.toFixed(4)} ± ${half.toFixed(4)}`];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  process.stdout.write(`ResNet-18, preset ${preset} (${recipe.epochs} epochs), ${workers} workers, all 60,000 images, ${seeds} seed(s); PyTorch: ${report.torch}\n`);
  process.stdout.write(`${line(header)}\n${rows.map(line).join('\n')}\n`);
  process.stdout.write('times: from the start of training to the end of the first evaluation that reached the target (evaluation after each epoch)\n');
  const seedHeader = ['framework', 'seed', ...targets.map((t) => `s to ${t}`), 'final accuracy'];
  const seedRows = runs.map((r) => [r.framework, String(r.seed), ...r.toTarget.map((x) => (x === null ? 'not reached' : x.toFixed(1))), r.testAccuracy.toFixed(4)]);
  const seedWidths = seedHeader.map((h, i) => Math.max(h.length, ...seedRows.map((r) => r[i]?.length ?? 0)));
  const seedLine = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(seedWidths[i] ?? 0) : c.padStart(seedWidths[i] ?? 0))).join('  ');
  process.stdout.write(`\nby seed:\n${seedLine(seedHeader)}\n${seedRows.map(seedLine).join('\n')}\n`);
}

/**
 * The cost model's transport constants, each from a measurement named beside it. Recalibrate
 * the shared ones for a machine with `npm run -s bench:cluster -- --json > cluster.json`, then
 * `npm run -s bench:cluster -- --reprint cluster.json --fit` (add `--hold-out MODEL` to check the
 * fit on a model it has not seen; docs/benchmarks.md, "A cluster on one machine").
 */
import type { TransportCalibration } from './cost-model.ts';

/**
 * A real cluster of hosts with their own cores. The link efficiency is the 1 Gbit/s rows' of
 * `bench:cluster` (where the link, not the cores, was the bound). The cost per message cannot be
 * measured here apart from the wait for a shared core (1 ms on this machine's cluster, below):
 * 0.1 ms is a syscall, a wake-up and the ring's handler on a host of its own. The codec rate is what one
 * host's ring converts to and from bf16 in `bench:allreduce` (11.2 M floats between two
 * processes: 34.3 ms in bf16 against 25.7 ms in f32 on loopback, so 44.8 MB through the codec
 * cost 8.6 ms).
 */
export const DEFAULT_CALIBRATION: TransportCalibration = {
  linkEfficiency: 0.86,
  perMessageMs: 0.1,
  hostThroughputBytesPerSecond: Number.POSITIVE_INFINITY,
  sharedThroughputBytesPerSecond: Number.POSITIVE_INFINITY,
  codecThroughputBytesPerSecond: 5.2e9,
  sharedCodecThroughputBytesPerSecond: Number.POSITIVE_INFINITY,
};

/**
 * The hosts of `bench:cluster`, which share this machine's two cores: all hosts together move
 * about 0.95 GB/s and convert about 1 GB/s of f32 to and from bf16, whatever their links, and a
 * ring message costs 1 ms. Fitted to the 28 multi-host rows of one run (docs/benchmarks.md).
 */
export const THIS_MACHINE_CLUSTER: TransportCalibration = {
  ...DEFAULT_CALIBRATION,
  perMessageMs: 1,
  sharedThroughputBytesPerSecond: 0.95e9,
  sharedCodecThroughputBytesPerSecond: 1e9,
};

/**
 * The compute per step that `bench:cluster` declares for its stand-in rows (batch 32 per worker,
 * 28×28) and `ringtrain plan` assumes unless given `--compute-ms`: an accelerator about as fast at
 * these small inputs as this machine's two cores are for ResNet-18, and relatively faster for the
 * deeper models.
 */
export const REFERENCE_COMPUTE_MS: Readonly<Record<'resnet18' | 'resnet50' | 'resnet152', number>> = { resnet18: 50, resnet50: 120, resnet152: 250 };

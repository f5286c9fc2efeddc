/**
 * The cost model's transport constants, each from a measurement named beside it. Recalibrate by
 * running `npm run bench:cluster` and fitting the rows (docs/benchmarks.md says how).
 */
import type { TransportCalibration } from './cost-model.ts';

/** A real cluster of hosts with their own cores: the ring streams at the link-bound rows' efficiency. */
export const DEFAULT_CALIBRATION: TransportCalibration = {
  linkEfficiency: 0.9,
  perMessageMs: 0.1,
  hostThroughputBytesPerSecond: Number.POSITIVE_INFINITY,
  sharedThroughputBytesPerSecond: Number.POSITIVE_INFINITY,
};

/** The hosts of `bench:cluster`, which share this machine's two cores. */
export const THIS_MACHINE_CLUSTER: TransportCalibration = {
  ...DEFAULT_CALIBRATION,
};

/**
 * The compute per step that `bench:cluster` declares for its stand-in rows (batch 32 per worker,
 * 28×28) and `ringtrain plan` assumes unless given `--compute-ms`: an accelerator about as fast at
 * these small inputs as this machine's two cores are for ResNet-18, and relatively faster for the
 * deeper models.
 */
export const REFERENCE_COMPUTE_MS: Readonly<Record<'resnet18' | 'resnet50' | 'resnet152', number>> = { resnet18: 50, resnet50: 120, resnet152: 250 };

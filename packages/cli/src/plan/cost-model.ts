/**
 * The cost model of a data-parallel step: how long one step takes on N workers joined by a ring,
 * from the compute time of one step, the bytes of the flat gradient vector and the network.
 *
 *   wire bytes     W = gradientBytes / compressionRatio
 *   buckets        B = ceil(gradientBytes / maxBucketBytes)          (the ring's fixed-order buckets)
 *   bandwidth      β = min(linkRate · linkEfficiency / streams, hostThroughput, sharedThroughput / N)
 *   codec          κ = min(codecThroughput, sharedCodecThroughput / N)   (16-bit wire formats only)
 *   all-reduce     A = 2(N−1)/N · (W / β + G / κ) + 2(N−1) · B · (latency + perMessage)  (0 when N = 1)
 *   tail           T = A / B                  (the last bucket exists only once compute has ended)
 *   exposed        E = A − overlap · min(compute, A − T)
 *   step           S = compute + E
 *   efficiency       = compute / S            (examples/s on N workers over N times one worker's)
 *
 * overlap 0 is a step that computes and then all-reduces (S = compute + A); overlap 1 hides
 * everything but the tail behind compute (S = max(compute + T, A)). A ring moves 2(N−1)/N of the
 * vector through every link and takes 2(N−1) rounds per bucket, each paying the link's latency
 * and a fixed cost per message (framing, a syscall, waking the peer).
 *
 * A 16-bit wire format (bf16, f16) converts every value it sends and receives, G = gradientBytes
 * of f32 through the codec on the thread that moves the bytes, so that time adds to the wire's
 * rather than hiding behind it.
 *
 * `streams` is how many of the ring's hops leave each host over its one link. With one worker per
 * host it is 1; so it is with several when the workers of a host sit side by side in the ring
 * (`--ring-order hosts`) and the hops between them stay on the host. In join order (`--ring-order
 * joined`) it can be up to the host's workers, each hop then carrying its stream over the same
 * link. A ring on one host crosses no link at all.
 *
 * `linkEfficiency` and `perMessageMs` are calibrated from measurements (see `calibration.ts`);
 * `hostThroughput` bounds what one host's transport can push whatever the link (its CPU), and
 * `sharedThroughput` what all hosts together can when they share one machine's cores, as the
 * hosts of `bench:cluster` do; a real cluster has no such bound (Infinity).
 */
import { InvalidArgumentError } from '../errors.ts';

/** The transport's constants, measured once per machine or network. */
export interface TransportCalibration {
  /** Fraction of the link rate the ring's streams carry, 0–1. */
  linkEfficiency: number;
  /** Fixed cost of one ring message (one round of one bucket), besides the link's latency. */
  perMessageMs: number;
  /** The most one host's transport moves per second on any link (bytes/s; Infinity: no bound). */
  hostThroughputBytesPerSecond: number;
  /** The most all hosts together move per second when they share one machine (bytes/s; Infinity: no bound). */
  sharedThroughputBytesPerSecond: number;
  /** f32 bytes one host converts to and from a 16-bit wire format per second (Infinity: free). */
  codecThroughputBytesPerSecond: number;
  /** The same for all hosts together when they share one machine (Infinity: no bound). */
  sharedCodecThroughputBytesPerSecond: number;
}

export interface StepCostInput {
  /** One worker's compute per step (forward, backward, update, data), ms. */
  computeMs: number;
  /** Bytes of the flat vector all-reduced each step, uncompressed. */
  gradientBytes: number;
  worldSize: number;
  /** Link rate of every host, bits per second, each way. */
  linkBitsPerSecond: number;
  /** One-way latency of a hop, ms. */
  latencyMs: number;
  /** The ring's bucket cap, bytes. */
  maxBucketBytes: number;
  /** Fraction of the all-reduce (apart from the tail) that can hide behind compute, 0–1. */
  overlap: number;
  /** Uncompressed over compressed bytes, ≥ 1. */
  compressionRatio: number;
  /** The wire format converts every value it sends and receives (bf16, f16). @default false */
  convertsValues?: boolean;
  /** Ring hops that share each host's link (see the module comment); 0: the ring crosses no link. @default 1 */
  streamsPerLink?: number;
  calibration: TransportCalibration;
}

export interface StepCost {
  allReduceMs: number;
  /** All-reduce time the step waits for (not hidden behind compute). */
  exposedMs: number;
  stepMs: number;
  /** Examples/s on N workers over N times one worker's. */
  scalingEfficiency: number;
  /** Bytes each worker sends per step. */
  sentBytesPerWorker: number;
  buckets: number;
  /** The bandwidth the ring gets, bytes/s, and what bounds it. */
  bandwidthBytesPerSecond: number;
  boundBy: 'link' | 'host' | 'shared';
}

/** The flag each input is given by, so that an error names what to change. */
export const STEP_COST_FLAGS: Readonly<Record<keyof Omit<StepCostInput, 'calibration' | 'convertsValues' | 'streamsPerLink'> | keyof TransportCalibration, string>> = {
  computeMs: '--compute-ms',
  gradientBytes: '--gradient-bytes',
  worldSize: '--workers',
  linkBitsPerSecond: '--link-gbit',
  latencyMs: '--latency-ms',
  maxBucketBytes: '--max-bucket-bytes',
  overlap: '--overlap',
  compressionRatio: '--compression-ratio',
  linkEfficiency: '--link-efficiency',
  perMessageMs: '--per-message-ms',
  hostThroughputBytesPerSecond: '--host-throughput-gbit',
  sharedThroughputBytesPerSecond: '--shared-throughput-gbit',
  codecThroughputBytesPerSecond: '--codec-throughput-gbit',
  sharedCodecThroughputBytesPerSecond: '--shared-codec-throughput-gbit',
};

function check(name: keyof typeof STEP_COST_FLAGS, value: number, ok: boolean, what: string): void {
  if (!ok || Number.isNaN(value)) throw new InvalidArgumentError(`${STEP_COST_FLAGS[name]} must be ${what}, got ${String(value)}`);
}

/** The predicted step of `input` (see the module comment); throws naming the flag of an impossible input. */
export function predictStep(input: StepCostInput): StepCost {
  const { computeMs, gradientBytes, worldSize: n, linkBitsPerSecond, latencyMs, maxBucketBytes, overlap, compressionRatio, calibration: c } = input;
  check('computeMs', computeMs, Number.isFinite(computeMs) && computeMs > 0, 'a number of milliseconds above 0');
  check('gradientBytes', gradientBytes, Number.isSafeInteger(gradientBytes) && gradientBytes > 0, 'a whole number of bytes above 0');
  check('worldSize', n, Number.isSafeInteger(n) && n >= 1, 'a whole number of at least 1');
  check('linkBitsPerSecond', linkBitsPerSecond, linkBitsPerSecond > 0 && linkBitsPerSecond !== Number.POSITIVE_INFINITY, 'a finite rate above 0');
  check('latencyMs', latencyMs, Number.isFinite(latencyMs) && latencyMs >= 0, 'a number of milliseconds of at least 0');
  check('maxBucketBytes', maxBucketBytes, Number.isSafeInteger(maxBucketBytes) && maxBucketBytes >= 4, 'a whole number of bytes of at least 4');
  check('overlap', overlap, overlap >= 0 && overlap <= 1, 'a fraction from 0 to 1');
  check('compressionRatio', compressionRatio, Number.isFinite(compressionRatio) && compressionRatio >= 1, 'a ratio of at least 1');
  check('linkEfficiency', c.linkEfficiency, c.linkEfficiency > 0 && c.linkEfficiency <= 1, 'a fraction above 0 and at most 1');
  check('perMessageMs', c.perMessageMs, Number.isFinite(c.perMessageMs) && c.perMessageMs >= 0, 'a number of milliseconds of at least 0');
  check('hostThroughputBytesPerSecond', c.hostThroughputBytesPerSecond, c.hostThroughputBytesPerSecond > 0, 'a rate above 0 (Infinity: no bound)');
  check('sharedThroughputBytesPerSecond', c.sharedThroughputBytesPerSecond, c.sharedThroughputBytesPerSecond > 0, 'a rate above 0 (Infinity: no bound)');
  check('codecThroughputBytesPerSecond', c.codecThroughputBytesPerSecond, c.codecThroughputBytesPerSecond > 0, 'a rate above 0 (Infinity: free)');
  check('sharedCodecThroughputBytesPerSecond', c.sharedCodecThroughputBytesPerSecond, c.sharedCodecThroughputBytesPerSecond > 0, 'a rate above 0 (Infinity: no bound)');

  const streams = input.streamsPerLink ?? 1;
  if (!(Number.isSafeInteger(streams) && streams >= 0)) throw new InvalidArgumentError(`the streams per host link must be a whole number of at least 0, got ${String(streams)}`);
  const wireBytes = gradientBytes / compressionRatio;
  const buckets = Math.ceil(gradientBytes / maxBucketBytes);
  const bounds = [
    { boundBy: 'link' as const, bytesPerSecond: streams === 0 ? Number.POSITIVE_INFINITY : ((linkBitsPerSecond / 8) * c.linkEfficiency) / streams },
    { boundBy: 'host' as const, bytesPerSecond: c.hostThroughputBytesPerSecond },
    { boundBy: 'shared' as const, bytesPerSecond: c.sharedThroughputBytesPerSecond / n },
  ];
  const bound = bounds.reduce((a, b) => (b.bytesPerSecond < a.bytesPerSecond ? b : a));
  if (n === 1) {
    return { allReduceMs: 0, exposedMs: 0, stepMs: computeMs, scalingEfficiency: 1, sentBytesPerWorker: 0, buckets, bandwidthBytesPerSecond: bound.bytesPerSecond, boundBy: bound.boundBy };
  }
  const sentBytesPerWorker = ((2 * (n - 1)) / n) * wireBytes;
  const codecBytesPerSecond = Math.min(c.codecThroughputBytesPerSecond, c.sharedCodecThroughputBytesPerSecond / n);
  const codecMs = input.convertsValues === true ? (((2 * (n - 1)) / n) * gradientBytes * 1000) / codecBytesPerSecond : 0;
  const allReduceMs = (sentBytesPerWorker / bound.bytesPerSecond) * 1000 + codecMs + 2 * (n - 1) * buckets * (latencyMs + c.perMessageMs);
  const tailMs = allReduceMs / buckets;
  const exposedMs = allReduceMs - overlap * Math.min(computeMs, allReduceMs - tailMs);
  const stepMs = computeMs + exposedMs;
  return { allReduceMs, exposedMs, stepMs, scalingEfficiency: computeMs / stepMs, sentBytesPerWorker, buckets, bandwidthBytesPerSecond: bound.bytesPerSecond, boundBy: bound.boundBy };
}

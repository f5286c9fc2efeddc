/**
 * Histogram buckets for durations, from a millisecond (an all-reduce of a small model on
 * loopback) to five minutes (a ResNet-152 step on a slow CPU).
 */
export const DURATION_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
]);

/**
 * The phases a training step's wall time is split into, as DDP's timers split it: computing the
 * local gradient, all-reducing it with the ring, and waiting (for data, for the slowest peer, for
 * the coordinator's next plan). They are the values of the `phase` label.
 */
export const STEP_PHASES = ['compute', 'all_reduce', 'waiting'] as const;
export type StepPhase = (typeof STEP_PHASES)[number];

export { createGradientReducer } from './create-reducer.ts';
export type { GradientReducer, ReduceOutcome, RingCalls } from './gradient-reducer.ts';
export { HalfPrecisionReducer } from './half-precision-reducer.ts';
export { PlainReducer } from './plain-reducer.ts';
export { POWERSGD_CALLS_PER_STEP, PowerSgdReducer } from './powersgd.ts';
export { lowRankPays, lowRankPlan, matrixViewOf, planLowRank } from './low-rank-plan.ts';
export type { FlatRange, LowRankMatrix, LowRankPlan, MatrixRegion } from './low-rank-plan.ts';

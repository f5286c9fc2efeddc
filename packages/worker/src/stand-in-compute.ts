/**
 * A benchmark device: a compute provider whose training step takes a fixed, declared time instead
 * of running the model, so that a cluster benchmark on a machine with few cores measures the
 * network and the all-reduce rather than the cores the hosts share. It stands in for an
 * accelerator that computes a step in `stepMs`.
 *
 * What stays real: the flat vector has the real model's layout and length (depth, stem, width),
 * so the ring moves the bytes the real gradient would; the replica is a real flat parameter
 * vector, started from the coordinator's initial state and updated by the model's own `Sgd` with
 * the averaged vector, so replicas agree bit for bit exactly when they applied the same averages
 * and the coordinator's checksums mean what they mean for the real trainer. What is not: the
 * gradient, a deterministic function of the batch (its labels), not of the weights, and there is
 * no model to evaluate, so evaluation is refused.
 *
 * Timing: `computeGradients` writes the gradient and then waits until `stepMs` minus the time the
 * previous update took has passed, so gradient and update together take `stepMs` whenever the
 * host's own work on the vector fits in it (the step's measured compute shows when it does not).
 */
import { describeResNet, flatLayoutFor, initialParameterValue, initialStatisticValue, listParameters, listStatistics, Sgd, decodeTrainingState, encodeTrainingState } from '@ringtrain/model';
import type { FlatLayout } from '@ringtrain/model';
import { weightChecksum } from './checksum.ts';
import { InvalidWorkerOptionError, TrainingFailedError } from './errors.ts';
import type { ComputeProvider, ReplicaTrainer } from './ports.ts';

/** The backend name a stand-in worker reports in `hello`, so summaries and dashboards say what ran. */
export const STAND_IN_BACKEND = 'stand-in';

/** The longest declared step accepted: a step of minutes is no accelerator being stood in for. */
export const MAX_STAND_IN_STEP_MS = 600_000;

/** A compute provider whose steps take `stepMs` (see the module comment); for benchmarks only. */
export function standInCompute(stepMs: number): ComputeProvider {
  if (!Number.isFinite(stepMs) || stepMs < 0 || stepMs > MAX_STAND_IN_STEP_MS) {
    throw new InvalidWorkerOptionError(`the stand-in compute time per step must be from 0 to ${MAX_STAND_IN_STEP_MS} ms, got ${String(stepMs)}`);
  }
  return {
    backend: STAND_IN_BACKEND,
    // The wait is a timer; only writing the gradient and the update hold the thread.
    heartbeatsDuringSteps: true,
    createTrainer(model, hyper) {
      const architecture = describeResNet(model);
      const layout = flatLayoutFor(architecture);
      const values = initialValues(layout, architecture, model.seed);
      const sgd = new Sgd(layout, { momentum: hyper.momentum, nesterov: hyper.nesterov, weightDecay: hyper.weightDecay });
      let steps = 0;
      let lastUpdateMs = 0;
      let own: Float32Array | undefined;
      const trainer: ReplicaTrainer = {
        async computeGradients(_x, labels, into) {
          const started = performance.now();
          const flat = into ?? (own !== undefined && own.length === layout.totalLength ? own : new Float32Array(layout.totalLength));
          if (flat.length !== layout.totalLength) {
            throw new TrainingFailedError(`the gradient buffer has ${flat.length} values, the flat layout of ResNet-${model.depth} has ${layout.totalLength}`);
          }
          own = flat;
          writeGradient(flat, layout, values, labels);
          const remainingMs = stepMs - lastUpdateMs - (performance.now() - started);
          if (remainingMs > 0) await new Promise((resolve) => setTimeout(resolve, remainingMs));
          return { loss: Number.NaN, correct: 0, count: labels.length, flat };
        },
        applyGradients(averaged, learningRate) {
          if (averaged.length !== layout.totalLength) {
            throw new TrainingFailedError(`the averaged vector has ${averaged.length} values, the flat layout has ${layout.totalLength}`);
          }
          const started = performance.now();
          sgd.step(values.subarray(0, layout.gradientLength), averaged.subarray(0, layout.gradientLength), learningRate);
          values.set(averaged.subarray(layout.gradientLength), layout.gradientLength);
          steps += 1;
          own = averaged;
          lastUpdateMs = performance.now() - started;
        },
        evaluate() {
          throw new TrainingFailedError('the stand-in compute device has no model to evaluate; run it with --limit-test 0');
        },
        getState: () => encodeTrainingState(layout, { step: steps, values, momentumBuffer: sgd.getState().momentumBuffer }),
        setState(bytes) {
          const state = decodeTrainingState(layout, bytes);
          values.set(state.values);
          sgd.setState({ momentumBuffer: state.momentumBuffer });
          steps = state.step;
        },
        weightChecksum: () => weightChecksum(values),
        dispose() {
          own = undefined;
        },
      };
      return trainer;
    },
  };
}

/** The seeded initial values the real model starts from (the coordinator's state replaces them at `ready`). */
function initialValues(layout: FlatLayout, architecture: ReturnType<typeof describeResNet>, seed: number): Float32Array {
  const values = new Float32Array(layout.totalLength);
  let offset = 0;
  for (const parameter of listParameters(architecture)) {
    const initial = initialParameterValue(parameter, seed);
    values.set(initial, offset);
    offset += initial.length;
  }
  for (const statistic of listStatistics(architecture)) {
    const initial = initialStatisticValue(statistic);
    values.set(initial, offset);
    offset += initial.length;
  }
  return values;
}

/**
 * The stand-in gradient: one small value per batch, from its labels, so that workers with
 * different batches contribute different vectors and the average is a real one; the statistics
 * section carries the replica's running statistics unchanged, as a model whose batches match them.
 */
function writeGradient(flat: Float32Array, layout: FlatLayout, values: Float32Array, labels: Int32Array): void {
  let hash = 0x811c9dc5;
  for (const label of labels) hash = Math.imul(hash ^ label, 0x01000193) >>> 0;
  const value = ((hash % 2001) - 1000) * 1e-6;
  flat.fill(value, 0, layout.gradientLength);
  flat.set(values.subarray(layout.gradientLength), layout.gradientLength);
}

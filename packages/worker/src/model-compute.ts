/**
 * The default compute of a worker: `@ringtrain/model`'s ResNet and `Trainer` on the backend
 * `selectBackend` picks.
 */
import { env, memory } from '@tensorflow/tfjs-core';
import { buildResNet, convolutionPrecisionsOn, selectBackend, Trainer, useConvolutionPrecision } from '@ringtrain/model';
import { weightChecksum } from './checksum.ts';
import type { ComputeProvider } from './ports.ts';

/** How the backend should share the machine's cores. */
export interface ComputeThreads {
  /**
   * Threads of the native backend's pool.
   * @default cores ÷ `workersPerMachine`
   */
  readonly threads?: number;
  /**
   * Workers sharing this machine, so that their thread pools do not oversubscribe the cores.
   * @default 1
   */
  readonly workersPerMachine?: number;
}

/** Makes `choice` ('auto', 'native', 'wasm', 'cpu', ...) the tfjs backend and returns a compute provider on it. */
export async function modelCompute(
  choice: string,
  onSelected?: (description: string) => void,
  threads: ComputeThreads = {},
): Promise<ComputeProvider> {
  // Production mode: no debug checks, and no console banner urging tfjs-node on every worker
  // (the backend choice and its reasons are logged below instead).
  env().set('PROD', true);
  const selection = await selectBackend(choice, {
    ...(threads.threads === undefined ? {} : { nativeThreads: threads.threads }),
    ...(threads.workersPerMachine === undefined ? {} : { workersPerMachine: threads.workersPerMachine }),
  });
  const skipped = selection.reasons.map((r) => `${r.backend}: ${r.skippedBecause}`).join('; ');
  onSelected?.(`backend ${selection.name} (${selection.detail})${skipped === '' ? '' : `; skipped ${skipped}`}`);
  return {
    backend: selection.name,
    precisions: convolutionPrecisionsOn(selection.name),
    memory: () => {
      const { numTensors, numBytes } = memory();
      return { numTensors, numBytes };
    },
    createTrainer(model, hyper) {
      // Per thread, like the backend's thread count: this is the thread that computes.
      useConvolutionPrecision(selection.name, hyper.precision ?? 'f32');
      const trainer = new Trainer(buildResNet(model), {
        sgd: { momentum: hyper.momentum, nesterov: hyper.nesterov, weightDecay: hyper.weightDecay },
        labelSmoothing: hyper.labelSmoothing,
        testTimeFlip: hyper.testTimeFlip,
        // The average rides in getState/setState, so checkpoints and joiners carry it.
        emaDecay: hyper.emaDecay ?? 0,
        emaWarmup: hyper.emaWarmup ?? false,
      });
      // One gradient buffer for the trainer's life: a fresh 45 MB array per step (ResNet-18)
      // costs more than some kernels. The averaged gradient a step applies is the next step's
      // buffer; a detached one (it was transferred away) is replaced by a fresh one.
      let gradients: Float32Array | undefined;
      return {
        computeGradients: (x, labels, into, onSegmentReady) => {
          if (onSegmentReady !== undefined) {
            const flat = into ?? (gradients !== undefined && gradients.length > 0 ? gradients : new Float32Array(trainer.layout.totalLength));
            if (into === undefined) gradients = flat;
            return trainer.computeGradients(x, labels, { into: flat, onSegmentReady: (range) => onSegmentReady(flat, range.start, range.end) });
          }
          if (into !== undefined) return trainer.computeGradients(x, labels, { into });
          const result = trainer.computeGradients(x, labels, gradients !== undefined && gradients.length > 0 ? { into: gradients } : {});
          gradients = result.flat;
          return result;
        },
        applyGradients: (averaged, learningRate) => {
          trainer.applyGradients(averaged, learningRate);
          gradients = averaged;
        },
        evaluate: (x, labels) => trainer.evaluate(x, labels),
        getState: () => trainer.getState(),
        setState: (bytes) => trainer.setState(bytes),
        weightChecksum: () => weightChecksum(trainer.getValues()),
        dispose: () => trainer.dispose(),
      };
    },
  };
}

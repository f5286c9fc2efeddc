/**
 * The default compute of a worker: `@ringtrain/model`'s ResNet and `Trainer` on the backend
 * `selectBackend` picks.
 */
import { buildResNet, selectBackend, Trainer } from '@ringtrain/model';
import type { ComputeProvider } from './ports.ts';

/** Makes `choice` ('auto', 'wasm', 'cpu', ...) the tfjs backend and returns a compute provider on it. */
export async function modelCompute(choice: string, onSelected?: (description: string) => void): Promise<ComputeProvider> {
  const selection = await selectBackend(choice);
  const skipped = selection.reasons.map((r) => `${r.backend}: ${r.skippedBecause}`).join('; ');
  onSelected?.(`backend ${selection.name} (${selection.detail})${skipped === '' ? '' : `; skipped ${skipped}`}`);
  return {
    backend: selection.name,
    createTrainer(model, hyper) {
      const trainer = new Trainer(buildResNet(model), {
        sgd: { momentum: hyper.momentum, nesterov: hyper.nesterov, weightDecay: hyper.weightDecay },
      });
      return {
        computeGradients: (x, labels) => trainer.computeGradients(x, labels),
        applyGradients: (averaged, learningRate) => trainer.applyGradients(averaged, learningRate),
        evaluate: (x, labels) => trainer.evaluate(x, labels),
        getState: () => trainer.getState(),
        setState: (bytes) => trainer.setState(bytes),
        getValues: () => trainer.getValues(),
        dispose: () => trainer.dispose(),
      };
    },
  };
}

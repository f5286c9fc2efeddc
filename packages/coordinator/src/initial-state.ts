/**
 * The state every replica of a fresh run starts from: the seeded initial model's weights, as
 * `Trainer.getState()` bytes. Built once by the coordinator and sent to every worker, so replicas
 * start identical whatever their backends.
 */
import type { HyperParameters, ModelSpec } from '@ringtrain/protocol';
import { buildResNet, selectBackend, Trainer } from '@ringtrain/model';
import { env } from '@tensorflow/tfjs-core';

export async function createInitialState(model: ModelSpec, hyper: Pick<HyperParameters, 'momentum' | 'nesterov' | 'weightDecay'>): Promise<Uint8Array> {
  // Initialisation only fills arrays; the plain JavaScript backend is enough and always there.
  // Production mode keeps tfjs from printing its banner urging tfjs-node.
  env().set('PROD', true);
  await selectBackend('cpu');
  const trainer = new Trainer(buildResNet(model), { sgd: { momentum: hyper.momentum, nesterov: hyper.nesterov, weightDecay: hyper.weightDecay } });
  try {
    return trainer.getState();
  } finally {
    trainer.dispose();
  }
}

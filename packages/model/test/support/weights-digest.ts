import { createHash } from 'node:crypto';

import type { ResNet } from '../../src/resnet.ts';

/** SHA-256 over the bytes of every variable of the model, in model order. */
export function weightsDigest(model: ResNet): string {
  const hash = createHash('sha256');
  for (const { spec, variable } of [...model.parameters, ...model.statistics]) {
    const values = variable.dataSync() as Float32Array;
    hash.update(spec.name);
    hash.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  }
  return hash.digest('hex');
}

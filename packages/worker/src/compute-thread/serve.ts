/**
 * The compute thread: owns the backend and the one replica's `Trainer`, and answers the control
 * thread's requests one at a time, in the order they were sent.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { describeResNet, flatLayoutFor } from '@ringtrain/model';
import { modelCompute } from '../model-compute.ts';
import type { ReplicaTrainer } from '../ports.ts';
import { describeThrown, type ComputeReply, type ComputeRequest, type ComputeThreadData } from './messages.ts';

const port = parentPort;
if (port === null) throw new Error('serve.ts runs as a worker thread');
const data = workerData as ComputeThreadData;

let description = '';
const compute = await modelCompute(data.backend, (text) => (description = text), {
  ...(data.threads === undefined ? {} : { threads: data.threads }),
  ...(data.workersPerMachine === undefined ? {} : { workersPerMachine: data.workersPerMachine }),
}).catch((error: unknown) => {
  port.postMessage({ kind: 'start-failed', error: describeThrown(error) } satisfies ComputeReply);
  return null;
});

if (compute !== null) {
  port.postMessage({ kind: 'selected', backend: compute.backend, precisions: compute.precisions ?? ['f32'], description } satisfies ComputeReply);
  let trainer: ReplicaTrainer | null = null;
  /** The gradient buffer in shared memory, made at the first step (and after a step cut short). */
  let gradient: Float32Array | null = null;
  /** The replica's flat length, for a segmented step that needs the shared buffer before it starts. */
  let flatLength = 0;
  const replica = (): ReplicaTrainer => {
    if (trainer === null) throw new Error('the compute thread holds no replica yet');
    return trainer;
  };

  /** Runs one request; returns its value and the buffers that cross back by transfer. */
  const run = async (request: ComputeRequest): Promise<{ value: unknown; transfer: ArrayBuffer[] }> => {
    switch (request.op) {
      case 'create':
        trainer?.dispose();
        trainer = null;
        gradient = null;
        trainer = await compute.createTrainer(request.model, request.hyper);
        flatLength = flatLayoutFor(describeResNet(request.model)).totalLength;
        return { value: null, transfer: [] };
      case 'compute-gradients': {
        if (request.into !== undefined && request.into.length === flatLength) gradient = request.into;
        else if (gradient !== null && request.freshBuffer) gradient = sharedFloats(gradient.length);
        if (request.segmented === true) {
          // The control thread all-reduces each segment while the rest computes: it needs the
          // shared buffer from the first segment on.
          const flat = (gradient ??= sharedFloats(flatLength));
          const onSegmentReady = (_flat: Float32Array, start: number, end: number): void =>
            port.postMessage({ kind: 'segment-ready', id: request.id, flat, start, end } satisfies ComputeReply);
          return { value: await replica().computeGradients(request.x, request.labels, flat, onSegmentReady), transfer: [] };
        }
        const result = await replica().computeGradients(request.x, request.labels, gradient ?? undefined);
        // The first step learns the model's flat length.
        if (gradient === null) {
          gradient = sharedFloats(result.flat.length);
          gradient.set(result.flat);
        }
        return { value: { ...result, flat: gradient }, transfer: [] };
      }
      case 'apply-gradients':
        await replica().applyGradients(request.averaged, request.learningRate);
        return { value: null, transfer: [] };
      case 'evaluate':
        return { value: await replica().evaluate(request.x, request.labels), transfer: [] };
      case 'get-state': {
        const bytes = await replica().getState();
        return { value: bytes, transfer: [bytes.buffer as ArrayBuffer] };
      }
      case 'set-state':
        await replica().setState(request.bytes);
        return { value: null, transfer: [] };
      case 'weight-checksum':
        return { value: await replica().weightChecksum(), transfer: [] };
      case 'dispose':
        trainer?.dispose();
        trainer = null;
        return { value: null, transfer: [] };
    }
  };

  const sharedFloats = (length: number): Float32Array => new Float32Array(new SharedArrayBuffer(length * Float32Array.BYTES_PER_ELEMENT));

  let queue = Promise.resolve();
  port.on('message', (request: ComputeRequest) => {
    queue = queue.then(async () => {
      try {
        const { value, transfer } = await run(request);
        port.postMessage({ kind: 'result', id: request.id, value, memory: compute.memory?.() ?? null } satisfies ComputeReply, transfer);
      } catch (error) {
        port.postMessage({ kind: 'thrown', id: request.id, error: describeThrown(error), memory: compute.memory?.() ?? null } satisfies ComputeReply);
      }
    });
  });
}

/**
 * A compute provider whose replica lives on a thread of its own, so that the thread holding the
 * coordinator connection and the peer links is never blocked by a training step: heartbeats are
 * answered, `stop` and a new generation are heard, and the ring's sockets are served while a
 * step computes.
 */
import { Worker as Thread } from 'node:worker_threads';
import type { ConvolutionPrecision, HyperParameters, ModelSpec } from '@ringtrain/protocol';
import { ComputeThreadError } from '../errors.ts';
import type { ComputeThreads } from '../model-compute.ts';
import type { ComputeProvider, ReplicaTrainer, SegmentListener } from '../ports.ts';
import type { ComputeReply, ComputeRequest, ComputeThreadData, MemoryReading, ThrownOnThread } from './messages.ts';

/** Requests without their id, as the control thread writes them. */
type Request = ComputeRequest extends infer R ? (R extends ComputeRequest ? Omit<R, 'id'> : never) : never;

export interface ThreadedComputeProvider extends ComputeProvider {
  /** Ends the compute thread; pending requests reject. */
  close(): Promise<void>;
}

/** Starts the compute thread on `choice` ('auto', 'native', 'wasm', 'cpu', ...) and waits for its backend. */
export async function threadedCompute(
  choice: string,
  onSelected?: (description: string) => void,
  threads: ComputeThreads = {},
): Promise<ThreadedComputeProvider> {
  const data: ComputeThreadData = { backend: choice, ...threads };
  const thread = new Thread(new URL('./bootstrap.mjs', import.meta.url), { workerData: data });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void; onSegment?: SegmentListener }>();
  let lastMemory: MemoryReading | null = null;
  let ended: ComputeThreadError | null = null;
  let nextId = 1;

  const started = new Promise<{ backend: string; description: string; precisions: readonly ConvolutionPrecision[] }>((resolve, reject) => {
    const end = (error: ComputeThreadError): void => {
      if (ended !== null) return;
      ended = error;
      reject(error);
      for (const waiter of pending.values()) waiter.reject(error);
      pending.clear();
    };
    thread.on('error', (error) => end(new ComputeThreadError(`the compute thread failed: ${error.message}`, { cause: error })));
    thread.on('exit', (code) => end(new ComputeThreadError(`the compute thread exited (code ${code})`)));
    thread.on('message', (reply: ComputeReply) => {
      switch (reply.kind) {
        case 'selected':
          return resolve(reply);
        case 'start-failed':
          return end(rebuild(reply.error, 'could not start the backend'));
        case 'segment-ready':
          return pending.get(reply.id)?.onSegment?.(reply.flat, reply.start, reply.end);
        case 'result':
        case 'thrown': {
          lastMemory = reply.memory;
          const waiter = pending.get(reply.id);
          pending.delete(reply.id);
          if (reply.kind === 'result') waiter?.resolve(reply.value);
          else waiter?.reject(rebuild(reply.error, 'training step'));
          return;
        }
      }
    });
  });
  const { backend, description, precisions } = await started;
  onSelected?.(`${description}; compute on a thread of its own`);

  const ask = <T>(request: Request, transfer: ArrayBuffer[] = [], onSegment?: SegmentListener): Promise<T> => {
    if (ended !== null) return Promise.reject(ended);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject, ...(onSegment === undefined ? {} : { onSegment }) });
      thread.postMessage({ ...request, id }, transfer);
    });
  };

  return {
    backend,
    precisions,
    heartbeatsDuringSteps: true,
    memory: () => lastMemory ?? { numTensors: 0, numBytes: 0 },
    async createTrainer(model: ModelSpec, hyper: HyperParameters): Promise<ReplicaTrainer> {
      await ask<null>({ op: 'create', model, hyper });
      // A gradient handed out and never applied (its step was cut short) may still be held by
      // the ring it was reduced in: the next step writes elsewhere.
      let lent = false;
      // The batch is handed over, not copied: the caller makes a new one per step.
      return {
        computeGradients: (x, labels, into, onSegmentReady) => {
          const freshBuffer = lent;
          lent = true;
          const transfer = [x.buffer as ArrayBuffer, labels.buffer as ArrayBuffer];
          // Only memory both threads see can be written there; any other buffer is not used.
          const shared = into !== undefined && into.buffer instanceof SharedArrayBuffer ? { into } : {};
          if (onSegmentReady === undefined) return ask({ op: 'compute-gradients', x, labels, freshBuffer, ...shared }, transfer);
          return ask({ op: 'compute-gradients', x, labels, freshBuffer, segmented: true, ...shared }, transfer, onSegmentReady);
        },
        applyGradients: (averaged, learningRate) => {
          lent = false;
          return ask({ op: 'apply-gradients', averaged, learningRate });
        },
        evaluate: (x, labels) => ask({ op: 'evaluate', x, labels }, [x.buffer as ArrayBuffer, labels.buffer as ArrayBuffer]),
        getState: () => ask({ op: 'get-state' }),
        setState: (bytes) => ask({ op: 'set-state', bytes }),
        weightChecksum: () => ask({ op: 'weight-checksum' }),
        dispose: () => ask({ op: 'dispose' }),
      };
    },
    async close() {
      if (ended === null) ended = new ComputeThreadError('the compute thread was closed');
      await thread.terminate();
    },
  };
}

function rebuild(thrown: ThrownOnThread, during: string): ComputeThreadError {
  const code = thrown.code === undefined ? '' : ` (${thrown.code})`;
  return new ComputeThreadError(`${during}: ${thrown.name}: ${thrown.message}${code}`, { thrownCode: thrown.code });
}

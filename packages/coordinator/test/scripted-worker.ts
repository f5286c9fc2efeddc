/**
 * A stand-in worker over a real WebSocket: it says hello, answers `ready` once its state has
 * arrived, reports every step of a plan with the figures the test chose, evaluates with the
 * figures the test chose, and leaves on `stop`. No model is involved, so a whole run takes
 * milliseconds and every number the coordinator shows is known in advance.
 */
import { encodeMessage, parseCoordinatorToWorker, PROTOCOL_VERSION, type CoordinatorToWorker } from '@ringtrain/protocol';
import WebSocket from 'ws';

export interface ScriptedWorkerOptions {
  url: string;
  token: string;
  workerId: string;
  /** Per step: loss, the share of its batch it gets right, and the time split it reports. */
  step?: { loss: number; correctFraction: number; computeMs: number; allReduceMs: number; waitMs: number };
  /** Per evaluation: mean loss and the share of its test images it gets right. */
  evaluation?: { loss: number; correctFraction: number };
  backend?: string;
  /** What `hello` says of heartbeats during steps; true unless told. */
  heartbeatsDuringSteps?: boolean;
}

export interface ScriptedWorker {
  socket: WebSocket;
  received: CoordinatorToWorker[];
  /** Resolves with the close code once the coordinator closed the connection. */
  closed: Promise<number>;
}

export async function startScriptedWorker(options: ScriptedWorkerOptions): Promise<ScriptedWorker> {
  const step = options.step ?? { loss: 1, correctFraction: 0.5, computeMs: 10, allReduceMs: 2, waitMs: 1 };
  const evaluation = options.evaluation ?? { loss: 0.5, correctFraction: 0.75 };
  const socket = new WebSocket(options.url);
  const received: CoordinatorToWorker[] = [];
  let generation = 0;
  const send = (message: Parameters<typeof encodeMessage>[0]): void => {
    if (socket.readyState === socket.OPEN) socket.send(encodeMessage(message));
  };
  socket.on('message', (data: Buffer) => {
    const message = parseCoordinatorToWorker(data);
    received.push(message);
    switch (message.type) {
      case 'assign':
        generation = message.generation;
        send({ v: PROTOCOL_VERSION, type: 'replica', generation, stepsDone: -1, abortedStep: -1, epoch: -1, offset: -1 });
        return;
      case 'state':
        if (message.offset + message.bytes.length === message.totalBytes) {
          send({ v: PROTOCOL_VERSION, type: 'ready', generation, step: message.step, weightChecksum: 'scripted' });
        }
        return;
      case 'plan': {
        const steps = message.learningRates.length;
        const batch = Math.ceil(message.indices.length / steps);
        for (let i = 0; i < steps; i++) {
          const count = Math.min(batch, message.indices.length - i * batch);
          send({
            v: PROTOCOL_VERSION,
            type: 'step-report',
            generation,
            epoch: message.epoch,
            step: message.firstStep + i,
            loss: step.loss,
            correct: Math.round(count * step.correctFraction),
            count,
            computeMs: step.computeMs,
            allReduceMs: step.allReduceMs,
            waitMs: step.waitMs,
            sentBytes: 1024,
            weightChecksum: '',
          });
        }
        return;
      }
      case 'evaluate': {
        const count = message.indices.length;
        send({ v: PROTOCOL_VERSION, type: 'evaluation', generation, epoch: message.epoch, lossSum: evaluation.loss * count, correct: Math.round(count * evaluation.correctFraction), count });
        return;
      }
      case 'stop':
        socket.close(1000, 'stopped');
        return;
      default:
        return;
    }
  });
  socket.on('error', () => {});
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  send({
    v: PROTOCOL_VERSION,
    type: 'hello',
    token: options.token,
    workerId: options.workerId,
    hostname: 'scripted-host',
    pid: 4242,
    backend: options.backend ?? 'scripted',
    peerAddress: { host: '127.0.0.1', port: 9 },
    generation: 0,
    heartbeatsDuringSteps: options.heartbeatsDuringSteps ?? true,
    peerTls: false,
  });
  return { socket, received, closed };
}

/** One valid message of every type, for round trips and as the base of bad inputs. */
import { PROTOCOL_VERSION } from '../src/index.ts';
import type { Message, MessageType } from '../src/index.ts';

const v = PROTOCOL_VERSION;

const ring = [0, 1, 2].map((rank) => ({ rank, workerId: `worker-${rank}`, address: { host: '127.0.0.1', port: 40_000 + rank } }));

export const examples: { [K in MessageType]: Extract<Message, { type: K }> } = {
  hello: {
    v,
    type: 'hello',
    token: 's3cret',
    workerId: 'worker-0',
    hostname: 'node-a',
    pid: 4242,
    backend: 'wasm',
    peerAddress: { host: '127.0.0.1', port: 40_000 },
    generation: 0,
    heartbeatsDuringSteps: true,
  },
  replica: { v, type: 'replica', generation: 3, stepsDone: 118, abortedStep: 118, epoch: 1, offset: 30_208 },
  ready: { v, type: 'ready', generation: 3, step: 119, weightChecksum: 'sha256:0f1e' },
  'gradient-ready': { v, type: 'gradient-ready', generation: 3, step: 119 },
  'ring-failed': { v, type: 'ring-failed', generation: 3, step: 118, code: 'RINGTRAIN_PEER_LINK_LOST', message: 'the link to rank 2 closed' },
  sync: { v, type: 'sync', generation: 3, step: 119, keep: false, epoch: 1, offset: 30_464, finishedByPeers: 1 },
  'step-report': {
    v,
    type: 'step-report',
    generation: 3,
    epoch: 1,
    step: 120,
    loss: 0.6931,
    correct: 97,
    count: 128,
    computeMs: 812.5,
    allReduceMs: 31.25,
    waitMs: 4,
    weightChecksum: 'sha256:0f1e',
  },
  evaluation: { v, type: 'evaluation', generation: 3, epoch: 1, lossSum: 512.25, correct: 4500, count: 5000 },
  welcome: { v, type: 'welcome', workerId: 'worker-0', heartbeatIntervalMs: 1000 },
  assign: {
    v,
    type: 'assign',
    generation: 3,
    rank: 1,
    worldSize: 3,
    ring,
    model: { depth: 18, stem: 'd2l', widthMultiplier: 1, imageSize: 28, channels: 1, classes: 10, seed: 7 },
    hyper: {
      batchSizePerWorker: 128,
      momentum: 0.9,
      nesterov: false,
      weightDecay: 5e-4,
      preprocess: { mean: 0.286, std: 0.353, augment: true, seed: 11 },
      checksumEverySteps: 50,
      maxBucketBytes: 4 * 1024 * 1024,
    },
  },
  dataset: {
    v,
    type: 'dataset',
    generation: 3,
    split: 'train',
    rows: 2,
    cols: 3,
    indices: Uint32Array.from([5, 9]),
    images: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]),
    labels: Uint8Array.from([4, 7]),
  },
  plan: {
    v,
    type: 'plan',
    generation: 3,
    epoch: 1,
    firstStep: 100,
    indices: Uint32Array.from([9, 5, 2, 8, 1, 0]),
    learningRates: Float32Array.from([0.05, 0.05, 0.025]),
    positions: Uint32Array.from([200, 400, 600]),
  },
  evaluate: { v, type: 'evaluate', generation: 3, epoch: 1, indices: Uint32Array.from([0, 1, 2, 3]) },
  'state-request': { v, type: 'state-request', generation: 3, step: 120 },
  stop: { v, type: 'stop', reason: 'training finished', failed: false },
  state: { v, type: 'state', generation: 3, step: 120, offset: 8, totalBytes: 16, bytes: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]) },
  error: { v, type: 'error', code: 'RINGTRAIN_BAD_TOKEN', message: 'the token is not the run token' },
  'peer-hello': { v, type: 'peer-hello', token: 's3cret', generation: 3, rank: 2 },
  'peer-chunk': {
    v,
    type: 'peer-chunk',
    generation: 3,
    step: 120,
    bucket: 2,
    phase: 'all-gather',
    round: 1,
    segment: 0,
    data: Float32Array.from([1.5, -2.25, 3e-8, 65504]),
  },
};

/** Which parse function accepts which types. */
export const channels = {
  coordinatorToWorker: ['welcome', 'assign', 'sync', 'state', 'dataset', 'plan', 'evaluate', 'state-request', 'stop', 'error'],
  workerToCoordinator: ['hello', 'replica', 'ready', 'ring-failed', 'gradient-ready', 'step-report', 'evaluation', 'state', 'error'],
  peer: ['peer-hello', 'peer-chunk', 'error'],
} as const satisfies Record<string, readonly MessageType[]>;

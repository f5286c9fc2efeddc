/**
 * One schema per message type of `messages.ts`: the fields' types and ranges, then the rules that
 * tie fields together (a ring as long as the world, images as many as the indices announce).
 * `v` and `type` are checked before a schema runs.
 */
import {
  anyNumber,
  arrayOf,
  boolean,
  bytes,
  fail,
  finite,
  float32Array,
  integer,
  object,
  oneOf,
  optional,
  text,
  u32,
  uint32Array,
} from './fields.ts';
import type { Check } from './fields.ts';
import { COMPRESSION_METHODS, CONVOLUTION_PRECISIONS } from './messages.ts';
import type { Message, MessageType } from './messages.ts';

/** The largest world a ring may have. */
export const MAX_WORLD_SIZE = 4096;

/** The largest PowerSGD rank: beyond it a low-rank product stops being small. */
export const MAX_POWERSGD_RANK = 256;

const version = integer(0);
const token = text(4096);
const identifier = text(256, 1);
const longText = text(65_536);

const peerAddress = object({ host: text(255, 1), port: integer(1, 65_535) });

const modelSpec = object({
  depth: oneOf(18, 34, 50, 101, 152),
  stem: oneOf('d2l', 'small', 'compact'),
  widthMultiplier: finite(Number.MIN_VALUE, 64),
  imageSize: integer(1, 4096),
  channels: integer(1, 64),
  classes: integer(2, 100_000),
  seed: integer(0),
  zeroInitResidual: boolean,
});

const hyperParameters = object({
  batchSizePerWorker: integer(1, 1 << 20),
  momentum: finite(0, 1),
  nesterov: boolean,
  weightDecay: finite(0),
  labelSmoothing: finite(0, 0.999),
  testTimeFlip: boolean,
  emaDecay: optional(finite(0, 1)),
  emaWarmup: optional(boolean),
  preprocess: object({
    mean: finite(),
    std: finite(Number.MIN_VALUE),
    augment: boolean,
    seed: integer(0),
    alternateFlips: optional(boolean),
    cropPaddingPx: optional(integer(0, 2048)),
  }),
  checksumEverySteps: integer(0),
  maxBucketBytes: integer(4, 2 ** 31),
  compression: object({
    method: oneOf(...COMPRESSION_METHODS),
    rank: integer(1, MAX_POWERSGD_RANK),
    startStep: u32,
  }),
  overlap: optional(boolean),
  delayedAllReduce: optional(boolean),
  precision: optional(oneOf(...CONVOLUTION_PRECISIONS)),
});

const ringMember = object({ rank: u32, workerId: identifier, address: peerAddress });

type Schemas = { [K in MessageType]: Check<Extract<Message, { type: K }>> };

/** Adds cross-field rules to a field schema. */
function refine<T>(check: Check<T>, rules: (message: T, type: string) => void): Check<T> {
  return (value, path, type) => {
    const message = check(value, path, type);
    rules(message, type);
    return message;
  };
}

export const schemas: Schemas = {
  hello: object({
    v: version,
    type: oneOf('hello'),
    token,
    workerId: identifier,
    hostname: text(255),
    pid: integer(0, 2 ** 31),
    backend: text(64),
    peerAddress,
    hostGroup: optional(text(255, 1)),
    generation: u32,
    heartbeatsDuringSteps: boolean,
    peerTls: boolean,
    precisions: optional(arrayOf(text(16, 1), 8)),
  }),

  replica: object({
    v: version,
    type: oneOf('replica'),
    generation: u32,
    stepsDone: integer(-1, 0xffff_ffff),
    abortedStep: integer(-1, 0xffff_ffff),
    epoch: integer(-1, 0xffff_ffff),
    offset: integer(-1, 0xffff_ffff),
  }),

  ready: object({ v: version, type: oneOf('ready'), generation: u32, step: u32, weightChecksum: text(256) }),

  'gradient-ready': object({ v: version, type: oneOf('gradient-ready'), generation: u32, step: u32 }),

  'ring-failed': object({ v: version, type: oneOf('ring-failed'), generation: u32, step: u32, code: text(128, 1), message: longText }),

  sync: object({ v: version, type: oneOf('sync'), generation: u32, step: u32, keep: boolean, epoch: u32, offset: u32, finishedByPeers: u32 }),

  'step-report': refine(
    object({
      v: version,
      type: oneOf('step-report'),
      generation: u32,
      epoch: u32,
      step: u32,
      loss: anyNumber,
      correct: u32,
      count: u32,
      computeMs: finite(0),
      allReduceMs: finite(0),
      waitMs: finite(0),
      sentBytes: integer(0),
      weightChecksum: text(256),
    }),
    (m, type) => {
      if (m.correct > m.count) fail(type, 'correct', `at most count (${m.count})`, m.correct);
    },
  ),

  evaluation: refine(
    object({
      v: version,
      type: oneOf('evaluation'),
      generation: u32,
      epoch: u32,
      lossSum: anyNumber,
      correct: u32,
      count: u32,
    }),
    (m, type) => {
      if (m.correct > m.count) fail(type, 'correct', `at most count (${m.count})`, m.correct);
    },
  ),

  welcome: object({ v: version, type: oneOf('welcome'), workerId: identifier, heartbeatIntervalMs: integer(1, 2 ** 31 - 1) }),

  assign: refine(
    object({
      v: version,
      type: oneOf('assign'),
      generation: u32,
      rank: u32,
      worldSize: integer(1, MAX_WORLD_SIZE),
      ring: arrayOf(ringMember, MAX_WORLD_SIZE),
      model: modelSpec,
      hyper: hyperParameters,
    }),
    (m, type) => {
      if (m.rank >= m.worldSize) fail(type, 'rank', `a rank below worldSize (${m.worldSize})`, m.rank);
      if (m.ring.length !== m.worldSize) fail(type, 'ring', `${m.worldSize} members (worldSize)`, m.ring);
      m.ring.forEach((member, i) => {
        if (member.rank !== i) fail(type, `ring[${i}].rank`, `${i} (ring[i] is rank i)`, member.rank);
      });
    },
  ),

  dataset: refine(
    object({
      v: version,
      type: oneOf('dataset'),
      generation: u32,
      split: oneOf('train', 'test'),
      rows: integer(1, 4096),
      cols: integer(1, 4096),
      indices: uint32Array,
      images: bytes,
      labels: bytes,
    }),
    (m, type) => {
      const imageBytes = m.indices.length * m.rows * m.cols;
      if (m.images.byteLength !== imageBytes) {
        fail(type, 'images', `${imageBytes} bytes (${m.indices.length} indices of ${m.rows}x${m.cols})`, m.images);
      }
      if (m.labels.byteLength !== m.indices.length) fail(type, 'labels', `${m.indices.length} bytes (one per index)`, m.labels);
    },
  ),

  plan: refine(
    object({
      v: version,
      type: oneOf('plan'),
      generation: u32,
      epoch: u32,
      firstStep: u32,
      indices: uint32Array,
      learningRates: float32Array,
      positions: uint32Array,
    }),
    (m, type) => {
      const steps = m.learningRates.length;
      if (m.positions.length !== steps) fail(type, 'positions', `${steps} positions (one per step)`, m.positions);
      if (steps === 0 ? m.indices.length !== 0 : m.indices.length % steps !== 0) {
        fail(type, 'indices', `a whole number of batches for ${steps} steps (one learning rate per step)`, m.indices);
      }
      const bad = m.learningRates.findIndex((rate) => !Number.isFinite(rate) || rate < 0);
      if (bad >= 0) fail(type, `learningRates[${bad}]`, 'a finite rate of at least 0', m.learningRates[bad]);
    },
  ),

  evaluate: object({ v: version, type: oneOf('evaluate'), generation: u32, epoch: u32, indices: uint32Array }),

  'state-request': object({ v: version, type: oneOf('state-request'), generation: u32, step: u32 }),

  stop: object({ v: version, type: oneOf('stop'), reason: longText, failed: boolean }),

  state: refine(
    object({
      v: version,
      type: oneOf('state'),
      generation: u32,
      step: u32,
      offset: integer(0),
      totalBytes: integer(0),
      bytes,
    }),
    (m, type) => {
      const end = m.offset + m.bytes.byteLength;
      if (end > m.totalBytes) fail(type, 'bytes', `a piece ending by totalBytes (${m.totalBytes}), not at ${end}`, m.bytes);
    },
  ),

  error: object({ v: version, type: oneOf('error'), code: text(128, 1), message: longText }),

  'peer-hello': object({ v: version, type: oneOf('peer-hello'), token, generation: u32, rank: integer(0, MAX_WORLD_SIZE - 1) }),

  'peer-chunk': object({
    v: version,
    type: oneOf('peer-chunk'),
    generation: u32,
    step: u32,
    bucket: u32,
    phase: oneOf('reduce-scatter', 'all-gather'),
    round: u32,
    segment: u32,
    data: float32Array,
  }),
};

/**
 * A data-driven runner for coordinator transcripts (after etcd's `testdata/*.txt`): each block of
 * a transcript is one command, a `----` line, and the outbox the machine must answer with,
 * rendered one effect per line. `REWRITE=1 npx vitest run` writes the actual outboxes back into
 * the files, to be reviewed like any other change.
 */
import type { Effect } from '../src/index.ts';
import { createCoordinatorState, step, type CoordinatorEvent, type CoordinatorState, type EpochSharder, type MachineConfig, type ShardPlan } from '../src/index.ts';

export interface Block {
  /** The `#` lines just before the command. */
  comments: string[];
  command: string;
  expected: string[];
}

/** Splits a transcript into blocks; `#` lines outside blocks are comments. */
export function parseTranscript(text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  let i = 0;
  let comments: string[] = [];
  while (i < lines.length) {
    const line = (lines[i] ?? '').trim();
    if (line === '') {
      i++;
      continue;
    }
    if (line.startsWith('#')) {
      comments.push(line);
      i++;
      continue;
    }
    if (lines[i + 1]?.trim() !== '----') throw new Error(`line ${i + 2}: expected ---- after the command "${line}"`);
    i += 2;
    const expected: string[] = [];
    while (i < lines.length && (lines[i] ?? '').trim() !== '') expected.push((lines[i++] ?? '').trimEnd());
    blocks.push({ comments, command: line, expected });
    comments = [];
  }
  return blocks;
}

export function renderTranscript(blocks: { comments: string[]; command: string; actual: string[] }[]): string {
  return blocks
    .map((b) => `${b.comments.map((c) => `${c}\n`).join('')}${b.command}\n----\n${(b.actual.length === 0 ? ['(nothing)'] : b.actual).join('\n')}\n`)
    .join('\n');
}

/**
 * Deals like `@ringtrain/data`'s EpochPlan, but readably: epoch e reads the indices rotated by e;
 * from `offset`, rank r takes every worldSize-th position starting at r; the tail that would make
 * shards unequal is dropped.
 */
export function rotatingSharder(trainCount: number): EpochSharder {
  return {
    trainCount,
    plan(epoch: number, offset: number, worldSize: number, batchSizePerWorker: number): ShardPlan {
      const perRank = Math.floor((trainCount - offset) / worldSize);
      const shards: Uint32Array[] = [];
      for (let rank = 0; rank < worldSize; rank++) {
        const shard = new Uint32Array(perRank);
        for (let i = 0; i < perRank; i++) shard[i] = (epoch + offset + rank + i * worldSize) % trainCount;
        shards.push(shard);
      }
      const steps = Math.ceil(perRank / batchSizePerWorker);
      return {
        shards,
        steps,
        // As EpochPlan: a plan run to its end has finished the epoch, dropped tail included.
        offsetAfter: (completed) => (completed === steps && steps > 0 ? trainCount : Math.min(trainCount, offset + completed * worldSize * batchSizePerWorker)),
      };
    },
  };
}

type Args = Map<string, string>;

function parseArgs(words: string[]): { positional: string[]; args: Args } {
  const positional: string[] = [];
  const args: Args = new Map();
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq < 0) positional.push(word);
    else args.set(word.slice(0, eq), word.slice(eq + 1).replace(/^"|"$/g, ''));
  }
  return { positional, args };
}

/** Splits on spaces, keeping "quoted strings" whole. */
function words(command: string): string[] {
  return command.match(/(?:[^\s"]+|"[^"]*")+/g) ?? [];
}

function num(args: Args, key: string, fallback: number): number {
  const value = args.get(key);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`${key}=${value} is not a number`);
  return n;
}

function configFrom(args: Args): MachineConfig {
  const workers = num(args, 'workers', 2);
  const lr = num(args, 'lr', 0.1);
  const warmup = num(args, 'warmup', 0);
  const decay = args.get('decay') ?? 'none';
  const config: MachineConfig = {
    minWorkers: num(args, 'min', workers),
    maxWorkers: num(args, 'max', workers),
    rendezvousSettleMs: num(args, 'settle', 0),
    rendezvousTimeoutMs: num(args, 'rendezvous-timeout', 10_000),
    minWorkersWaitMs: num(args, 'min-wait', 5000),
    onStall: args.get('on-stall') === 'fail' ? 'fail' : 'evict',
    maxRegroupsWithoutProgress: num(args, 'max-regroups', 5),
    batchScaling: args.get('batch-scaling') === 'fixed-per-worker' ? 'fixed-per-worker' : 'fixed-global',
    ringOrder: args.get('ring-order') === 'joined' ? 'joined' : 'hosts',
    heartbeatIntervalMs: 1000,
    silentAfterMs: num(args, 'silent-after', 2000),
    stallWarningMs: num(args, 'stall-warning', 1000),
    stallTimeoutMs: num(args, 'stall-timeout', 5000),
    epochs: num(args, 'epochs', 1),
    globalBatchSize: num(args, 'batch', 4),
    testCount: num(args, 'test', 6),
    targetAccuracies: (args.get('targets') ?? '').split(',').filter((t) => t !== '').map(Number),
    stopAtTargetAccuracy: args.get('stop-at-target') === 'true',
    model: { depth: 18, stem: 'small', widthMultiplier: 0.25, imageSize: 28, channels: 1, classes: 10, seed: 1, zeroInitResidual: false },
    hyper: {
      momentum: 0.9,
      nesterov: false,
      weightDecay: 0,
      labelSmoothing: 0,
      testTimeFlip: false,
      preprocess: { mean: 0.286, std: 0.353, augment: false, seed: 1 },
      checksumEverySteps: num(args, 'checksum-every', 1),
      maxBucketBytes: 1 << 20,
      compression: { method: 'none', rank: 2, startStep: 0 },
    },
    checkpointEveryEpochs: num(args, 'checkpoint-every', 0),
    onDivergence: args.get('on-divergence') === 'warn' ? 'warn' : 'fail',
    sharder: rotatingSharder(num(args, 'train', 12)),
    // decay=linear: down to 0 over the run, so the rates show where in it the schedule reads.
    learningRate: (globalStep, stepsPerEpoch) =>
      (warmup > 0 ? lr * Math.min(1, (globalStep + 1) / warmup) : lr) * (decay === 'linear' ? 1 - globalStep / (num(args, 'epochs', 1) * stepsPerEpoch) : 1),
  };
  if (args.has('resume-epoch')) {
    config.resume = {
      position: { epoch: num(args, 'resume-epoch', 0), offset: num(args, 'resume-offset', 0) },
      stepsDone: num(args, 'resume-steps', 0),
    };
  }
  return config;
}

/** Compact index lists: runs of consecutive indices as a-b. */
export function renderIndices(indices: ArrayLike<number>): string {
  const parts: string[] = [];
  let i = 0;
  while (i < indices.length) {
    let j = i;
    while (j + 1 < indices.length && (indices[j + 1] ?? 0) === (indices[j] ?? 0) + 1) j++;
    parts.push(j > i + 1 ? `${indices[i]}-${indices[j]}` : j === i + 1 ? `${indices[i]},${indices[j]}` : `${indices[i]}`);
    i = j + 1;
  }
  return `[${parts.join(',')}]`;
}

const fmt = (n: number): string => (Number.isInteger(n) ? String(n) : Number.isNaN(n) ? 'NaN' : n.toFixed(4));

export function renderEffect(e: Effect): string | null {
  switch (e.kind) {
    case 'send': {
      const m = e.message;
      switch (m.type) {
        case 'welcome':
          return `send ${e.workerId} welcome`;
        case 'assign':
          return `send ${e.workerId} assign gen=${m.generation} rank=${m.rank} world=${m.worldSize} ring=${m.ring.map((r) => `${r.rank}:${r.workerId}@${r.address.port}`).join(',')} batch=${m.hyper.batchSizePerWorker}`;
        case 'plan':
          return `send ${e.workerId} plan gen=${m.generation} epoch=${m.epoch} first=${m.firstStep} indices=${renderIndices(m.indices)} lr=[${[...m.learningRates].map(fmt).join(' ')}]`;
        case 'evaluate':
          return `send ${e.workerId} evaluate gen=${m.generation} epoch=${m.epoch} indices=${renderIndices(m.indices)}`;
        case 'state-request':
          return `send ${e.workerId} state-request gen=${m.generation} step=${m.step}`;
        case 'stop':
          return `send ${e.workerId} stop${m.failed ? ' failed' : ''} "${m.reason}"`;
        case 'sync':
          return `send ${e.workerId} sync gen=${m.generation} step=${m.step} ${m.keep ? 'keep' : 'state-follows'}${m.finishedByPeers > 0 ? ` finished-by-peers=${m.finishedByPeers}` : ''}`;
        default:
          return `send ${e.workerId} ${m.type}`;
      }
    }
    case 'send-state':
      return `send-state ${e.workerId} gen=${e.generation} step=${e.step}`;
    case 'ship-data':
      return `ship ${e.workerId} ${e.split} ${renderIndices(e.indices)}`;
    case 'close':
      return `close ${e.workerId} ${e.code} ${e.errorCode} "${e.reason}"`;
    case 'refuse':
      return `refuse ${e.connectionId} ${e.code} ${e.errorCode} "${e.reason}"`;
    case 'steps-undone':
      return `undo from-step=${e.fromStep}`;
    case 'hold-state':
      return `hold-state step=${e.step} bytes=${e.bytes.length}`;
    case 'step-committed':
      return `commit step=${e.step} epoch=${e.epoch} gen=${e.generation} via=${e.via} ${e.indices.map((batch, rank) => `${renderIndices(batch)}${(e.realCounts[rank] ?? batch.length) < batch.length ? `(real ${e.realCounts[rank]})` : ''}`).join(' ')}`;
    case 'write-checkpoint': {
      const p = e.position;
      return `write-checkpoint ${e.reason} step=${e.step} position=epoch:${p.epoch},offset:${p.offset} bytes=${e.bytes.length}`;
    }
    case 'log':
      return e.level === 'debug' ? null : `log ${e.level} "${e.message}"`;
    case 'progress': {
      const p = e.progress;
      switch (p.type) {
        case 'rendezvous':
          return `progress rendezvous ${p.joined}/${p.minWorkers}`;
        case 'started':
          return `progress started gen=${p.generation} world=${p.worldSize} cause=${p.cause} step=${p.step} steps-per-epoch=${p.stepsPerEpoch} global-batch=${p.globalBatchSize}`;
        case 'step':
          return `progress step epoch=${p.epoch} step=${p.step} ${p.stepInEpoch}/${p.stepsPerEpoch} loss=${fmt(p.loss)} acc=${fmt(p.accuracy)} epoch-loss=${fmt(p.epochLoss)} ex/s=${fmt(p.examplesPerSecond)}`;
        case 'epoch':
          return `progress epoch ${p.epoch} train-loss=${fmt(p.trainLoss)} train-acc=${fmt(p.trainAccuracy)} test-loss=${fmt(p.testLoss)} test-acc=${fmt(p.testAccuracy)} examples=${p.examples} ms=${p.trainingMs}`;
        case 'target-reached':
          return `progress target-reached target=${p.target} test-acc=${fmt(p.testAccuracy)} epoch=${p.epoch} step=${p.step} wall-s=${fmt(p.wallSeconds)} training-s=${fmt(p.trainingSeconds)}`;
      }
      return null;
    }
    case 'finished': {
      const r = e.result;
      return `finished steps=${r.steps} workers=${r.workers} generations=${r.generations} discarded=${r.stepsDiscarded} recovery-s=${fmt(r.recoverySeconds)} checksums-agreed=${r.checksumsAgreed} test-acc=${fmt(r.testAccuracy)} train-acc=${fmt(r.trainAccuracy)} train-loss=${fmt(r.trainLoss)} ex/s=${fmt(r.examplesPerSecond)} wall-s=${fmt(r.wallSeconds)}${r.timeToAccuracy.map((t) => ` tta-${t.target}=${fmt(t.wallSeconds)}`).join('')}${r.unevenBatches.map((u) => ` uneven-batch=${u.globalBatchSize}@${u.worldSize}`).join('')}${r.stoppedEarly === null ? '' : ` stopped-early="${r.stoppedEarly}"`}`;
    }
    case 'failed':
      return `failed ${e.code} "${e.message}"`;
  }
  return null;
}

/** Plays a transcript, returning each command with the outbox it produced. */
export function playTranscript(blocks: Block[]): { comments: string[]; command: string; actual: string[] }[] {
  let state: CoordinatorState | null = null;
  let clockMs = 0;
  const results: { comments: string[]; command: string; actual: string[] }[] = [];
  for (const block of blocks) {
    const [verb = '', ...rest] = words(block.command);
    const { positional, args } = parseArgs(rest);
    clockMs = num(args, 'at', clockMs + 1);
    const atMs = clockMs;
    if (verb === 'config') {
      state = createCoordinatorState(configFrom(args), atMs);
      results.push({ comments: block.comments, command: block.command, actual: [`phase ${state.phase}`] });
      continue;
    }
    if (state === null) throw new Error(`"${block.command}" before any config`);
    const current: CoordinatorState = state;
    const events = eventsFor(verb, positional, args, atMs, current);
    const actual: string[] = [];
    for (const event of events) {
      const result = step(state, event);
      state = result.state;
      for (const effect of result.outbox) {
        const line = renderEffect(effect);
        if (line !== null) actual.push(line);
      }
    }
    if (args.get('show') === 'phase') actual.push(`phase ${state.phase}`);
    results.push({ comments: block.comments, command: block.command, actual });
  }
  return results;
}

/** `all`: the members of the current generation (every worker before the first); else the one named. */
function membersOr(workerId: string, state: CoordinatorState): string[] {
  if (workerId !== 'all') return [workerId];
  const ranked = state.workers.filter((w) => w.rank !== null).sort((a, b) => (a.rank ?? 0) - (b.rank ?? 0));
  return (ranked.length > 0 ? ranked : state.workers).map((w) => w.workerId);
}

function eventsFor(verb: string, positional: string[], args: Args, atMs: number, state: CoordinatorState): CoordinatorEvent[] {
  const workerId = positional[0] ?? '';
  const generation = num(args, 'gen', state.generation);
  const rankOf = (id: string): number => state.workers.find((w) => w.workerId === id)?.rank ?? -1;
  switch (verb) {
    case 'join':
      return [
        {
          type: 'worker-joined',
          atMs,
          connectionId: `${workerId}@${atMs}`,
          workerId,
          hostname: args.get('host') ?? 'host',
          pid: num(args, 'pid', 100 + state.workers.length),
          backend: 'cpu',
          peerAddress: { host: args.get('peer-host') ?? '127.0.0.1', port: num(args, 'port', 9000 + state.workers.length) },
          ...(args.has('host-group') ? { hostGroup: args.get('host-group') } : {}),
          generation: num(args, 'last-gen', 0),
        },
      ];
    case 'replica':
      return membersOr(workerId, state).map((id) => ({
        type: 'replica-reported',
        atMs,
        workerId: id,
        generation,
        stepsDone: num(args, `steps.${id}`, num(args, 'steps', -1)),
        abortedStep: num(args, `aborted.${id}`, num(args, 'aborted', -1)),
        position: args.has('epoch') ? { epoch: num(args, 'epoch', 0), offset: num(args, 'offset', 0) } : null,
      }));
    case 'ready':
      return membersOr(workerId, state).map((id) => ({
        type: 'worker-ready',
        atMs,
        workerId: id,
        generation,
        step: num(args, 'step', state.nextStep),
        weightChecksum: args.get(`checksum${rankOf(id)}`) ?? args.get('checksum') ?? 'c0',
      }));
    case 'gradient':
      return membersOr(workerId, state).map((id) => ({ type: 'gradient-ready', atMs, workerId: id, generation, step: num(args, 'step', state.nextStep) }));
    case 'ring-failed':
      return [{ type: 'ring-failed', atMs, workerId, generation, step: num(args, 'step', state.nextStep), code: args.get('code') ?? 'RINGTRAIN_PEER_LINK_LOST', message: args.get('message') ?? 'the ring link closed' }];
    case 'report': {
      const ids = membersOr(workerId, state);
      return ids.map((id) => ({
        type: 'step-reported',
        atMs,
        workerId: id,
        report: {
          generation,
          epoch: num(args, 'epoch', state.epoch),
          step: num(args, 'step', (state.workers.find((w) => w.workerId === id)?.lastStep ?? -1) + 1),
          loss: num(args, 'loss', 2),
          correct: num(args, 'correct', 1),
          count: num(args, 'count', state.batchSizePerWorker),
          computeMs: num(args, 'compute-ms', 10),
          allReduceMs: num(args, 'allreduce-ms', 5),
          waitMs: num(args, 'wait-ms', 1),
          sentBytes: num(args, 'sent-bytes', 4096),
          weightChecksum: args.get(`checksum${rankOf(id)}`) ?? args.get('checksum') ?? '',
        },
      }));
    }
    case 'evaluation': {
      const ids = membersOr(workerId, state);
      return ids.map((id) => ({
        type: 'evaluation-reported',
        atMs,
        workerId: id,
        evaluation: {
          generation,
          epoch: num(args, 'epoch', state.epoch),
          lossSum: num(args, 'loss-sum', 1.5),
          correct: num(args, 'correct', 2),
          count: num(args, 'count', 3),
        },
      }));
    }
    case 'state':
      return [{ type: 'state-reported', atMs, workerId, generation, step: num(args, 'step', state.nextStep), bytes: new Uint8Array(num(args, 'bytes', 16)) }];
    case 'leave':
      return [{ type: 'worker-left', atMs, workerId, reason: args.get('reason') ?? 'connection closed', ...(args.has('code') ? { errorCode: args.get('code') } : {}) }];
    case 'tick': {
      // heard=w1,w2: the shell heard heartbeat answers from these workers just now.
      const heard = args.get('heard');
      return [heard === undefined ? { type: 'tick', atMs } : { type: 'tick', atMs, lastHeardAtMs: Object.fromEntries(heard.split(',').map((id) => [id, atMs])) }];
    }
    case 'checkpoint-request':
      return [{ type: 'checkpoint-requested', atMs }];
    case 'checkpoint-written':
      return [{ type: 'checkpoint-written', atMs, path: args.get('path') ?? 'ckpt', step: num(args, 'step', 0), ...(args.has('error') ? { error: args.get('error') } : {}) }];
    case 'stop':
      return [{ type: 'stop-requested', atMs, reason: args.get('reason') ?? 'interrupted' }];
    default:
      throw new Error(`unknown transcript command "${verb}"`);
  }
}

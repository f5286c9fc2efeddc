/**
 * The ring all-reduce: every rank holds a flat Float32Array of the same length and ends with the
 * element-wise sum (or mean) over all ranks, bit-identical everywhere.
 *
 *   A. The vector is cut into buckets of at most `maxBucketBytes`, in a fixed order, and each
 *      bucket into N segments (see `buckets.ts`). Rank r sends only to its successor r+1 and
 *      receives only from its predecessor r-1 (mod N).
 *   B. Reduce-scatter, rounds 0..N-2: in round k rank r sends segment (r-k) mod N and receives
 *      segment (r-1-k) mod N, which it adds into its own copy. Segment s thus starts at rank s and
 *      picks up the ranks' values in the order s, s+1, ..., s-1; after N-1 rounds rank s-1 holds
 *      its final value. That one order is the only order in which segment s is ever summed.
 *   C. With `average`, the owner divides its final segment by N.
 *   D. All-gather, rounds 0..N-2: in round k rank r sends segment (r+1-k) mod N and receives
 *      segment (r-k) mod N, which it copies over its own. Every rank ends with the owner's bits.
 *   E. Buckets are pipelined: a rank starts `bucketsInFlight` buckets (sends their round-0
 *      segment) at once and starts another each time one completes, and it handles each chunk
 *      the moment it arrives, whatever its bucket, so the link carries bucket k+1 while bucket k is
 *      being summed. Each rank sends and receives 2(N-1)/N of the vector.
 *
 * Chunks are sent straight from the caller's vector, without copies; a region is never
 * overwritten before the chunk read from it has reached the successor (the ring's causality
 * guarantees it), and `allReduce` resolves only once every send has been handed to the operating
 * system, so the caller may reuse the vector at once.
 *
 * Every chunk is checked against what this rank expects next for its bucket; a difference means
 * the ranks disagree (vector length, step, generation) and fails the ring with an error that
 * names both sides. A predecessor silent for `stallTimeoutMs` fails it with an error that names
 * the predecessor. A failed ring stays failed: the control plane forms a new one.
 */
import type { PeerChunk, PeerChunkHeader, PeerChunkMessage } from '@ringtrain/protocol';
import { addInto } from './add-into.ts';
import { BucketPlan } from './buckets.ts';
import {
  AllReduceBusyError,
  AllReduceMismatchError,
  AllReduceStallError,
  InvalidAllReduceOptionError,
  PeerLinkLostError,
  RingClosedError,
} from './errors.ts';
import { ALLREDUCE_DEFAULTS, MAX_BUCKET_BYTES, requireInteger } from './options.ts';
import type { PeerTransport } from './transport.ts';

export interface RingAllReduceOptions {
  /**
   * The largest bucket in bytes; the vector is cut into buckets of at most this size.
   * Every rank of a ring must use the same value.
   * @default 4194304 (4 MiB)
   */
  maxBucketBytes?: number;
  /**
   * How many buckets a rank starts before the first one completes.
   * @default 4
   */
  bucketsInFlight?: number;
  /**
   * How long to wait without a chunk from the predecessor before failing the ring.
   * @default 300000 (5 minutes)
   */
  stallTimeoutMs?: number;
}

export interface AllReduceCallOptions {
  /**
   * The training step this all-reduce belongs to; every rank must pass the same one, and steps
   * must increase from call to call.
   * @default the previous call's step + 1, starting at 0
   */
  step?: number;
  /**
   * Divide the sum by the world size.
   * @default false
   */
  average?: boolean;
}

export interface AllReduceResult {
  /** The reduced vector: the caller's own array, reduced in place. */
  data: Float32Array;
  step: number;
  /** Wall time of the call. */
  durationMs: number;
  /** Time until the first chunk arrived from the predecessor: mostly waiting for slower peers. */
  waitMs: number;
  bytesSent: number;
  bytesReceived: number;
  buckets: number;
}

type RingState = 'idle' | 'reducing' | 'failed' | 'closed';

const PHASE_NAMES = { 'reduce-scatter': 'reduce-scatter', 'all-gather': 'all-gather' } as const;

/** A ring all-reduce over one {@link PeerTransport}; one call at a time. */
export class RingAllReduce {
  readonly rank: number;
  readonly worldSize: number;
  readonly generation: number;
  readonly maxBucketBytes: number;
  readonly bucketsInFlight: number;
  readonly stallTimeoutMs: number;
  readonly #transport: PeerTransport;
  #state: RingState = 'idle';
  #failure: Error | undefined;
  #lastStep = -1;

  constructor(transport: PeerTransport, options: RingAllReduceOptions = {}) {
    this.#transport = transport;
    this.rank = transport.rank;
    this.worldSize = transport.worldSize;
    this.generation = transport.generation;
    this.maxBucketBytes = requireInteger('maxBucketBytes', options.maxBucketBytes ?? ALLREDUCE_DEFAULTS.maxBucketBytes, 4, MAX_BUCKET_BYTES);
    if (this.maxBucketBytes > transport.maxChunkBytes) {
      throw new InvalidAllReduceOptionError(
        `maxBucketBytes ${this.maxBucketBytes} exceeds the ${transport.maxChunkBytes} bytes this rank's link accepts per chunk`,
      );
    }
    this.bucketsInFlight = requireInteger('bucketsInFlight', options.bucketsInFlight ?? ALLREDUCE_DEFAULTS.bucketsInFlight, 1, 1024);
    this.stallTimeoutMs = requireInteger('stallTimeoutMs', options.stallTimeoutMs ?? ALLREDUCE_DEFAULTS.stallTimeoutMs, 1, 2 ** 31 - 1);
  }

  /** `idle` between calls, `reducing` during one, `failed` after an error, `closed` after {@link close}. */
  get state(): RingState {
    return this.#state;
  }

  /**
   * Sums `vector` over every rank, in place, and resolves with it (see {@link AllReduceResult}).
   * With a world of one, or an empty vector, nothing is sent and `vector` is returned unchanged.
   */
  async allReduce(vector: Float32Array, options: AllReduceCallOptions = {}): Promise<AllReduceResult> {
    if (this.#state === 'closed') throw new RingClosedError(`rank ${this.rank}'s ring of generation ${this.generation} is closed`);
    if (this.#state === 'failed') throw this.#failure as Error;
    if (this.#state === 'reducing') throw new AllReduceBusyError(`rank ${this.rank}: allReduce called before the previous call finished`);
    const step = requireInteger('step', options.step ?? this.#lastStep + 1, this.#lastStep + 1, 0xffff_ffff);
    this.#lastStep = step;
    this.#state = 'reducing';
    try {
      const result = await this.#run(vector, step, options.average ?? false);
      if (!this.#isClosed()) this.#state = 'idle';
      return result;
    } catch (error) {
      if (this.#isClosed()) throw new RingClosedError(`rank ${this.rank}'s ring was closed during step ${step}`, { cause: error });
      const failure = asError(error);
      this.#state = 'failed';
      this.#failure = failure;
      void this.#transport.close(failure);
      throw failure;
    }
  }

  // A method, so that TypeScript does not narrow the state across the awaits above.
  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  /** Closes the ring's links. Pending and later calls reject with {@link RingClosedError}. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    await this.#transport.close();
  }

  async #run(vector: Float32Array, step: number, average: boolean): Promise<AllReduceResult> {
    const startedAt = performance.now();
    const n = this.worldSize;
    const plan = new BucketPlan(vector.length, n, Math.floor(this.maxBucketBytes / Float32Array.BYTES_PER_ELEMENT));
    const result: AllReduceResult = { data: vector, step, durationMs: 0, waitMs: 0, bytesSent: 0, bytesReceived: 0, buckets: plan.count };
    if (n === 1 || plan.count === 0) {
      result.durationMs = performance.now() - startedAt;
      return result;
    }

    const rank = this.rank;
    const chunksPerBucket = 2 * (n - 1);
    const received = new Uint32Array(plan.count);
    const sends = new SendTracker();
    let started = 0;
    let completed = 0;
    let firstChunkAt: number | undefined;

    const send = (bucket: number, phase: PeerChunk['phase'], round: number, segment: number): void => {
      const start = plan.segmentStart(bucket, segment);
      const data = vector.subarray(start, start + plan.segmentLength(bucket, segment));
      result.bytesSent += data.byteLength;
      sends.track(this.#transport.send({ generation: this.generation, step, bucket, phase, round, segment, data }));
    };
    const startBucket = (): void => {
      send(started++, 'reduce-scatter', 0, rank);
    };

    // All-gather chunks carry final values: the link may write them straight into the vector.
    this.#transport.setDestinations?.((header) => this.#allGatherDestination(header, vector, step, plan));
    try {
      while (started < Math.min(this.bucketsInFlight, plan.count)) startBucket();
      while (completed < plan.count) {
        const chunk = await sends.raceWith(this.#transport.receive(this.stallTimeoutMs));
        if (chunk === undefined) throw this.#stallError(step, plan, received, completed);
        firstChunkAt ??= performance.now();
        this.#check(chunk, step, plan, received, vector.length);
        const bucket = chunk.bucket;
        const k = received[bucket] as number;
        received[bucket] = k + 1;
        const segment = chunk.segment;
        const target = vector.subarray(plan.segmentStart(bucket, segment), plan.segmentStart(bucket, segment) + chunk.data.length);
        result.bytesReceived += chunk.data.byteLength;

        if (k < n - 1) {
          addInto(target, chunk.data);
          if (k < n - 2) {
            send(bucket, 'reduce-scatter', k + 1, segment);
          } else {
            if (average) divideInPlace(target, n);
            send(bucket, 'all-gather', 0, segment);
          }
        } else {
          // Already in place when the link wrote it there.
          if (chunk.data.buffer !== vector.buffer || chunk.data.byteOffset !== target.byteOffset) target.set(chunk.data);
          const round = k - (n - 1);
          if (round < n - 2) send(bucket, 'all-gather', round + 1, segment);
          if (k + 1 === chunksPerBucket) {
            completed++;
            if (started < plan.count) startBucket();
          }
        }
        this.#transport.release?.(chunk);
      }
    } finally {
      this.#transport.setDestinations?.(undefined);
    }
    if (!(await sends.settled(this.stallTimeoutMs))) {
      throw new AllReduceStallError(
        `all-reduce stalled at step ${step} (generation ${this.generation}): rank ${this.rank} could not hand its last chunks ` +
          `to rank ${(rank + 1) % n} (its ring successor) within ${this.stallTimeoutMs} ms`,
      );
    }
    result.waitMs = (firstChunkAt ?? startedAt) - startedAt;
    result.durationMs = performance.now() - startedAt;
    return result;
  }

  /**
   * Where an arriving all-gather chunk may be written directly: its segment of `vector`, when the
   * header is of this step and names the segment this rank receives in its round. A final value
   * never lands on data still needed: it exists only after this rank's own contribution to the
   * segment has been sent. Anything else goes through the queue and {@link #check} as usual.
   */
  #allGatherDestination(header: PeerChunkHeader, vector: Float32Array, step: number, plan: BucketPlan): Float32Array | undefined {
    const n = this.worldSize;
    if (header.phase !== 'all-gather' || header.generation !== this.generation || header.step !== step) return undefined;
    if (header.bucket >= plan.count || header.round > n - 2 || header.segment !== mod(this.rank - header.round, n)) return undefined;
    const length = plan.segmentLength(header.bucket, header.segment);
    if (header.dataBytes !== length * Float32Array.BYTES_PER_ELEMENT) return undefined;
    const start = plan.segmentStart(header.bucket, header.segment);
    return vector.subarray(start, start + length);
  }

  /** Throws {@link AllReduceMismatchError} unless `chunk` is exactly what this rank expects next. */
  #check(chunk: PeerChunkMessage, step: number, plan: BucketPlan, received: Uint32Array, length: number): void {
    const n = this.worldSize;
    const me = `rank ${this.rank}`;
    const them = `rank ${(this.rank - 1 + n) % n}`;
    if (chunk.generation !== this.generation) {
      throw new AllReduceMismatchError(`step ${step}: ${them} sent a chunk of generation ${chunk.generation}, ${me} is in generation ${this.generation}`);
    }
    if (chunk.step !== step) {
      throw new AllReduceMismatchError(`${them} sent a chunk of step ${chunk.step} while ${me} is all-reducing step ${step}`);
    }
    if (chunk.bucket >= plan.count) {
      throw new AllReduceMismatchError(
        `step ${step}: ${them} sent bucket ${chunk.bucket}, but ${me}'s vector of ${length * 4} bytes has only ${plan.count} buckets`,
      );
    }
    const k = received[chunk.bucket] as number;
    const where = `bucket ${chunk.bucket} at step ${step}`;
    if (k >= 2 * (n - 1)) {
      throw new AllReduceMismatchError(`${where}: ${them} sent a chunk after the bucket was complete at ${me}`);
    }
    const predecessor = (this.rank - 1 + n) % n;
    const phase = k < n - 1 ? PHASE_NAMES['reduce-scatter'] : PHASE_NAMES['all-gather'];
    const round = k < n - 1 ? k : k - (n - 1);
    const segment = k < n - 1 ? mod(predecessor - round, n) : mod(this.rank - round, n);
    if (chunk.phase !== phase || chunk.round !== round || chunk.segment !== segment) {
      throw new AllReduceMismatchError(
        `${where}: ${them} sent ${chunk.phase} round ${chunk.round} segment ${chunk.segment}, ${me} expected ${phase} round ${round} segment ${segment}`,
      );
    }
    const expectedBytes = plan.segmentLength(chunk.bucket, segment) * Float32Array.BYTES_PER_ELEMENT;
    if (chunk.data.byteLength !== expectedBytes) {
      throw new AllReduceMismatchError(`${where}: ${them} sent ${chunk.data.byteLength} bytes, ${me} expected ${expectedBytes}`);
    }
  }

  #stallError(step: number, plan: BucketPlan, received: Uint32Array, completed: number): AllReduceStallError {
    const n = this.worldSize;
    const waiting = received.findIndex((count) => count < 2 * (n - 1));
    const k = received[waiting] ?? 0;
    const next = k < n - 1 ? `reduce-scatter round ${k}` : `all-gather round ${k - (n - 1)}`;
    return new AllReduceStallError(
      `all-reduce stalled at step ${step} (generation ${this.generation}): nothing from rank ${(this.rank - 1 + n) % n} ` +
        `(rank ${this.rank}'s ring predecessor) for ${this.stallTimeoutMs} ms; ${completed} of ${plan.count} buckets complete, ` +
        `waiting for bucket ${waiting} ${next}`,
    );
  }
}

/** Counts a call's sends in flight; the first failure is kept and rethrown. */
class SendTracker {
  #pending = 0;
  #failure: Error | undefined;
  #onSettled: (() => void) | undefined;
  #onFailure: ((error: Error) => void) | undefined;

  track(send: Promise<void>): void {
    this.#pending++;
    send.then(
      () => this.#done(),
      (error: unknown) => {
        this.#failure ??= asError(error);
        this.#onFailure?.(this.#failure);
        this.#done();
      },
    );
  }

  throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** `receive`, unless a send fails first (a dead successor must not leave us waiting for the stall timeout). */
  raceWith<T>(receive: Promise<T>): Promise<T> {
    if (this.#failure !== undefined) {
      // The receive was started already; its own rejection (the ring closing) is no news.
      receive.catch(() => {});
      return Promise.reject(this.#failure);
    }
    return new Promise<T>((resolve, reject) => {
      this.#onFailure = reject;
      // Only this race's own handler: the previous race's settling must not unhook the next one.
      receive.then(resolve, reject).finally(() => {
        if (this.#onFailure === reject) this.#onFailure = undefined;
      });
    });
  }

  /**
   * Whether every tracked send settled within `timeoutMs` (a successor that stops reading leaves
   * them pending); rejects with the first failure.
   */
  async settled(timeoutMs: number): Promise<boolean> {
    if (this.#pending > 0) {
      let timer: NodeJS.Timeout | undefined;
      const done = await new Promise<boolean>((resolve) => {
        this.#onSettled = () => resolve(true);
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      clearTimeout(timer);
      if (!done) return false;
    }
    this.throwIfFailed();
    return true;
  }

  #done(): void {
    this.#pending--;
    if (this.#pending === 0) this.#onSettled?.();
  }
}

function divideInPlace(target: Float32Array, divisor: number): void {
  for (let i = 0; i < target.length; i++) target[i] = (target[i] as number) / divisor;
}

function mod(value: number, n: number): number {
  return ((value % n) + n) % n;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new PeerLinkLostError(String(error));
}

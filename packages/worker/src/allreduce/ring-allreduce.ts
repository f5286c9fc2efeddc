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
 *   F. With a `finalSuffix` the caller is still writing the vector, from its end towards its start.
 *      Buckets then start from the last one back, each once the suffix covers it, and a chunk of a
 *      bucket this rank cannot add to yet waits until it can. Only the moment a bucket starts
 *      changes: every element is summed in the one order of B, so the result is bit for bit that
 *      of a call made once the whole vector was written.
 *
 * float32 chunks are sent straight from the caller's vector, without copies; a region is never
 * overwritten before the chunk read from it has reached the successor (the ring's causality
 * guarantees it), and `allReduce` resolves only once every send has been handed to the operating
 * system, so the caller may reuse the vector at once.
 *
 * With a 16-bit `wireFormat` ('bf16', 'f16'; see `half-precision.ts`) sums are still taken in
 * float32, and values are rounded to 16 bits exactly where they are sent, at these points only:
 *
 *   B'. Round 0: rank s sends encode(x_s). At each later reduce-scatter round a rank decodes what
 *      it received, adds its own float32 value (one float32 rounding) and, unless it is the
 *      segment's owner, sends the encoding of that sum. So segment s is
 *        p_0 = encode(x_s),  p_k = encode(decode(p_(k-1)) + x_(s+k))  for k = 1 .. N-2.
 *   C'. The owner computes the float32 sum decode(p_(N-2)) + x_(s-1), divides it by N with
 *      `average`, and rounds it once more: final = encode(sum). It overwrites its own segment with
 *      decode(final), so it holds the rounded value too, and sends final on.
 *   D'. All-gather: each rank overwrites its segment with decode(final) and forwards the 16 bits
 *      it received unchanged. Every rank, the owner included, ends with the same bits.
 *   A world of one sends nothing and so rounds nothing. The bucket plan is that of float32
 *   (buckets of maxBucketBytes / 4 elements), so the order of the sums does not depend on the
 *   format; chunks are half as long on the wire.
 *
 * Every chunk is checked against what this rank expects next for its bucket; a difference means
 * the ranks disagree (vector length, step, generation, wire format) and fails the ring with an
 * error that names both sides. A predecessor silent for `stallTimeoutMs` fails it with an error
 * that names the predecessor. A failed ring stays failed: the control plane forms a new one.
 */
import { wireElementBytes } from '@ringtrain/protocol';
import type { PeerChunk, PeerChunkHeader, PeerChunkMessage, WireFormat } from '@ringtrain/protocol';
import { addInto } from './add-into.ts';
import { BucketPlan } from './buckets.ts';
import type { FinalSuffix } from './final-suffix.ts';
import {
  AllReduceBusyError,
  AllReduceMismatchError,
  AllReduceStallError,
  InvalidAllReduceOptionError,
  PeerLinkLostError,
  RingClosedError,
} from './errors.ts';
import { decodeAddEncode, decodeAddRound, decodeHalf, encodeHalf } from './half-precision.ts';
import type { HalfFormat } from './half-precision.ts';
import { ALLREDUCE_DEFAULTS, MAX_BUCKET_BYTES, requireInteger, requireWireFormat } from './options.ts';
import type { PeerTransport } from './transport.ts';

export interface RingAllReduceOptions {
  /**
   * The largest bucket in bytes; the vector is cut into buckets of at most this size.
   * Every rank of a ring must use the same value.
   * @default 8388608 (8 MiB)
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
  /**
   * The element format on the wire for calls that do not name one: 'f32' sends the values as
   * they are; 'bf16' and 'f16' send 16 bits per element, rounding where the module comment says
   * (pair them with an {@link ErrorFeedback}). Every rank must use the same format in a call.
   * @default 'f32'
   */
  wireFormat?: WireFormat;
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
  /**
   * The element format on the wire for this call (see {@link RingAllReduceOptions.wireFormat}).
   * @default the ring's wireFormat
   */
  wireFormat?: WireFormat;
  /**
   * The part of `vector` that is final, when the caller is still writing the rest (step F of the
   * module comment). With a world of one the call returns at once, as the vector is its own sum.
   * @default the whole vector is final
   */
  finalSuffix?: FinalSuffix;
}

export interface AllReduceResult {
  /** The reduced vector: the caller's own array, reduced in place. */
  data: Float32Array;
  step: number;
  /** Wall time of the call. */
  durationMs: number;
  /**
   * Time until the first chunk arrived from the predecessor: mostly waiting for slower peers.
   * With a `finalSuffix`, the time from the moment the whole vector was final until the first
   * chunk of the bucket that starts last (bucket 0) arrived, if later.
   */
  waitMs: number;
  /** Chunk data bytes sent, in the wire format (2 per element with bf16/f16, 4 with f32). */
  bytesSent: number;
  bytesReceived: number;
  buckets: number;
}

type RingState = 'idle' | 'reducing' | 'failed' | 'closed';

const PHASE_NAMES = { 'reduce-scatter': 'reduce-scatter', 'all-gather': 'all-gather' } as const;

/** What a wait for a chunk yields when the final suffix grew first. */
const SUFFIX_GREW: unique symbol = Symbol('suffix grew');

/** A ring all-reduce over one {@link PeerTransport}; one call at a time. */
export class RingAllReduce {
  readonly rank: number;
  readonly worldSize: number;
  readonly generation: number;
  readonly maxBucketBytes: number;
  readonly bucketsInFlight: number;
  readonly stallTimeoutMs: number;
  readonly wireFormat: WireFormat;
  readonly #transport: PeerTransport;
  readonly #halfBuffers = new HalfBufferPool();
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
    this.wireFormat = requireWireFormat('wireFormat', options.wireFormat ?? ALLREDUCE_DEFAULTS.wireFormat);
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
    const wireFormat = requireWireFormat('wireFormat', options.wireFormat ?? this.wireFormat);
    this.#lastStep = step;
    this.#state = 'reducing';
    try {
      const result = await this.#run(vector, step, options.average ?? false, wireFormat, options.finalSuffix);
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

  async #run(vector: Float32Array, step: number, average: boolean, format: WireFormat, suffix: FinalSuffix | undefined): Promise<AllReduceResult> {
    const startedAt = performance.now();
    if (suffix !== undefined && suffix.length !== vector.length) {
      throw new InvalidAllReduceOptionError(`step ${step}: the final suffix describes ${suffix.length} elements, the vector has ${vector.length}`);
    }
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
    const half: HalfFormat | undefined = format === 'f32' ? undefined : format;
    const halfBuffers = this.#halfBuffers;
    halfBuffers.prepare(Math.ceil(plan.bucketElements / n));
    let started = 0;
    let completed = 0;
    let firstChunkAt: number | undefined;
    let lastBucketFirstChunkAt: number | undefined;
    // Step F: which bucket is the i-th to start, whether it may, and chunks that came before it did.
    const bucketAt = (i: number): number => (suffix === undefined ? i : plan.count - 1 - i);
    const isStarted = (bucket: number): boolean => (suffix === undefined ? bucket : plan.count - 1 - bucket) < started;
    const isFinal = (bucket: number): boolean => suffix === undefined || suffix.covers(plan.bucketStart(bucket));
    const early = new Map<number, PeerChunkMessage[]>();
    const replay: PeerChunkMessage[] = [];

    const segmentOf = (bucket: number, segment: number): Float32Array => {
      const start = plan.segmentStart(bucket, segment);
      return vector.subarray(start, start + plan.segmentLength(bucket, segment));
    };
    /** Sends `data`; `done` runs once the bytes have been handed over (or the send failed). */
    const send = (bucket: number, phase: PeerChunk['phase'], round: number, segment: number, data: Float32Array | Uint16Array, done?: () => void): void => {
      result.bytesSent += data.byteLength;
      const chunk: PeerChunk = { generation: this.generation, step, bucket, phase, round, segment, data };
      if (half !== undefined) chunk.format = half;
      const sending = this.#transport.send(chunk);
      sends.track(sending);
      if (done !== undefined) sending.then(done, done);
    };
    /** Sends a 16-bit buffer from the pool and gives it back once sent. */
    const sendHalf = (bucket: number, phase: PeerChunk['phase'], round: number, segment: number, data: Uint16Array): void => {
      send(bucket, phase, round, segment, data, () => halfBuffers.release(data));
    };
    const startBucket = (): void => {
      const bucket = bucketAt(started++);
      const own = segmentOf(bucket, rank);
      if (half === undefined) {
        send(bucket, 'reduce-scatter', 0, rank, own);
      } else {
        const encoded = halfBuffers.acquire(own.length);
        encodeHalf(half, own, encoded);
        sendHalf(bucket, 'reduce-scatter', 0, rank, encoded);
      }
      // A predecessor whose part of the vector was final sooner may have sent this bucket already.
      replay.push(...(early.get(bucket) ?? []));
      early.delete(bucket);
    };

    // f32 all-gather chunks carry final values: the link may write them straight into the vector.
    if (half === undefined) this.#transport.setDestinations?.((header) => this.#allGatherDestination(header, vector, step, plan));
    const startFinalBuckets = (): void => {
      while (started < plan.count && started - completed < this.bucketsInFlight && isFinal(bucketAt(started))) startBucket();
    };
    try {
      startFinalBuckets();
      let receiving: Promise<PeerChunkMessage | undefined> | undefined;
      while (completed < plan.count) {
        let chunk = replay.shift();
        if (chunk === undefined) {
          receiving ??= this.#transport.receive(this.stallTimeoutMs);
          const next = suffix === undefined || suffix.complete ? await sends.raceWith(receiving) : await sends.raceWith(Promise.race([receiving, suffix.grown().then((): typeof SUFFIX_GREW => SUFFIX_GREW)]));
          if (next === SUFFIX_GREW) {
            startFinalBuckets();
            continue;
          }
          receiving = undefined;
          if (next === undefined) throw this.#stallError(step, plan, received, completed);
          firstChunkAt ??= performance.now();
          if (next.bucket === 0) lastBucketFirstChunkAt ??= performance.now();
          // Without a suffix the ring's causality rules this out (a chunk never overtakes its bucket's start).
          if (next.bucket < plan.count && !isStarted(next.bucket)) {
            const waiting = early.get(next.bucket);
            if (waiting === undefined) early.set(next.bucket, [next]);
            else waiting.push(next);
            continue;
          }
          chunk = next;
        }
        this.#check(chunk, step, plan, received, vector.length, format);
        const bucket = chunk.bucket;
        const k = received[bucket] as number;
        received[bucket] = k + 1;
        const segment = chunk.segment;
        const target = segmentOf(bucket, segment);
        result.bytesReceived += chunk.data.byteLength;
        let released = false;

        if (k < n - 1) {
          if (half === undefined) {
            addInto(target, chunk.data as Float32Array);
            if (k < n - 2) {
              send(bucket, 'reduce-scatter', k + 1, segment, target);
            } else {
              if (average) divideInPlace(target, n);
              send(bucket, 'all-gather', 0, segment, target);
            }
          } else {
            const encoded = halfBuffers.acquire(target.length);
            if (k < n - 2) {
              decodeAddEncode(half, chunk.data as Uint16Array, target, encoded);
              sendHalf(bucket, 'reduce-scatter', k + 1, segment, encoded);
            } else {
              decodeAddRound(half, chunk.data as Uint16Array, target, average ? n : 1, encoded);
              sendHalf(bucket, 'all-gather', 0, segment, encoded);
            }
          }
        } else {
          const round = k - (n - 1);
          if (half === undefined) {
            // Already in place when the link wrote it there.
            if (chunk.data.buffer !== vector.buffer || chunk.data.byteOffset !== target.byteOffset) target.set(chunk.data);
            if (round < n - 2) send(bucket, 'all-gather', round + 1, segment, target);
          } else {
            decodeHalf(half, chunk.data as Uint16Array, target);
            if (round < n - 2) {
              // The received bits go on unchanged; their buffer is given back once they are sent.
              send(bucket, 'all-gather', round + 1, segment, chunk.data, () => this.#transport.release?.(chunk));
              released = true;
            }
          }
          if (k + 1 === chunksPerBucket) {
            completed++;
            startFinalBuckets();
          }
        }
        if (!released) this.#transport.release?.(chunk);
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
    result.waitMs =
      suffix === undefined ? (firstChunkAt ?? startedAt) - startedAt : Math.max(0, (lastBucketFirstChunkAt ?? startedAt) - (suffix.completeAt ?? startedAt));
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
    if (header.phase !== 'all-gather' || header.format !== undefined || header.generation !== this.generation || header.step !== step) return undefined;
    if (header.bucket >= plan.count || header.round > n - 2 || header.segment !== mod(this.rank - header.round, n)) return undefined;
    const length = plan.segmentLength(header.bucket, header.segment);
    if (header.dataBytes !== length * Float32Array.BYTES_PER_ELEMENT) return undefined;
    const start = plan.segmentStart(header.bucket, header.segment);
    return vector.subarray(start, start + length);
  }

  /** Throws {@link AllReduceMismatchError} unless `chunk` is exactly what this rank expects next. */
  #check(chunk: PeerChunkMessage, step: number, plan: BucketPlan, received: Uint32Array, length: number, format: WireFormat): void {
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
    const sent = chunk.format ?? 'f32';
    if (sent !== format) {
      throw new AllReduceMismatchError(`${where}: ${them} sent ${sent} elements, ${me} expected ${format}`);
    }
    const expectedBytes = plan.segmentLength(chunk.bucket, segment) * wireElementBytes(format);
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

/**
 * Reused buffers for the 16-bit chunks this rank encodes, one segment long each; a buffer is back
 * in the pool once its chunk has been handed to the operating system.
 */
class HalfBufferPool {
  #elements = 0;
  #free: ArrayBuffer[] = [];

  /** Buffers are `elements` long from now on; shorter ones are dropped. */
  prepare(elements: number): void {
    if (elements > this.#elements) {
      this.#elements = elements;
      this.#free = [];
    }
  }

  acquire(length: number): Uint16Array {
    const buffer = this.#free.pop() ?? new ArrayBuffer(this.#elements * Uint16Array.BYTES_PER_ELEMENT);
    return new Uint16Array(buffer, 0, length);
  }

  release(data: Uint16Array): void {
    if (data.buffer.byteLength === this.#elements * Uint16Array.BYTES_PER_ELEMENT) this.#free.push(data.buffer as ArrayBuffer);
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

/**
 * A ring of `worldSize` transports inside one process, as Gloo runs N ranks in one process for
 * its tests: a sent chunk's data is copied (as the network would) and queued at the successor.
 */
import { PROTOCOL_VERSION } from '@ringtrain/protocol';
import type { PeerChunk } from '@ringtrain/protocol';
import { ChunkQueue } from './chunk-queue.ts';
import { PeerLinkLostError, RingClosedError } from './errors.ts';
import { requireInteger } from './options.ts';
import type { PeerTransport } from './transport.ts';

export interface MemoryRingOptions {
  /**
   * The generation every transport belongs to.
   * @default 0
   */
  generation?: number;
}

/** One transport per rank; transport r sends to transport (r + 1) mod worldSize. */
export function createMemoryTransports(worldSize: number, options: MemoryRingOptions = {}): PeerTransport[] {
  requireInteger('worldSize', worldSize, 1);
  const generation = requireInteger('generation', options.generation ?? 0, 0, 0xffff_ffff);
  const transports: MemoryTransport[] = [];
  for (let rank = 0; rank < worldSize; rank++) transports.push(new MemoryTransport(rank, worldSize, generation));
  transports.forEach((transport, rank) => transport.connect(transports[(rank + 1) % worldSize] as MemoryTransport));
  return transports;
}

class MemoryTransport implements PeerTransport {
  readonly maxChunkBytes = Number.POSITIVE_INFINITY;
  readonly inbox = new ChunkQueue();
  #successor: MemoryTransport | undefined;
  #closed = false;

  constructor(
    readonly rank: number,
    readonly worldSize: number,
    readonly generation: number,
  ) {}

  connect(successor: MemoryTransport): void {
    this.#successor = successor;
  }

  send(chunk: PeerChunk): Promise<void> {
    const successor = this.#successor;
    if (this.#closed) return Promise.reject(new RingClosedError(`rank ${this.rank}'s ring is closed`));
    if (successor === undefined || successor.inbox.failure !== undefined) {
      return Promise.reject(new PeerLinkLostError(`rank ${this.rank} cannot send: the link to rank ${(this.rank + 1) % this.worldSize} is closed`));
    }
    successor.inbox.push({ v: PROTOCOL_VERSION, type: 'peer-chunk', ...chunk, data: chunk.data.slice() });
    return Promise.resolve();
  }

  receive(timeoutMs: number) {
    return this.inbox.next(timeoutMs);
  }

  close(reason?: unknown): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    const why = reason instanceof Error ? `: ${reason.message}` : '';
    this.inbox.fail(new RingClosedError(`rank ${this.rank}'s ring is closed`));
    this.#successor?.inbox.fail(new PeerLinkLostError(`rank ${this.rank} closed its ring link${why}`));
    return Promise.resolve();
  }
}

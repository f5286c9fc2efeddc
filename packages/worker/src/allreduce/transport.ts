/**
 * What the ring all-reduce needs from the network: send a chunk to the ring successor, receive
 * the next chunk from the ring predecessor. Two implementations: in memory (every rank in one
 * process, for tests) and WebSocket (one link to each neighbour).
 */
import type { PeerChunk, PeerChunkHeader, PeerChunkMessage } from '@ringtrain/protocol';

export interface PeerTransport {
  readonly rank: number;
  readonly worldSize: number;
  readonly generation: number;
  /** The largest chunk payload in bytes the link accepts from the predecessor. */
  readonly maxChunkBytes: number;
  /**
   * Sends one chunk to the successor. `chunk.data` may be a view of the caller's vector and is not
   * copied: it must stay unchanged until the returned promise resolves (the bytes have then been
   * handed to the operating system). Rejects when the link has failed.
   */
  send(chunk: PeerChunk): Promise<void>;
  /**
   * The next chunk from the predecessor, in the order it was sent, or `undefined` when none
   * arrived within `timeoutMs`. Rejects once the link has failed and every chunk that arrived
   * before the failure has been received.
   */
  receive(timeoutMs: number): Promise<PeerChunkMessage | undefined>;
  /**
   * Gives a received chunk's memory back for reuse once its data has been consumed; the chunk
   * must not be used afterwards. Optional: without it the memory is garbage-collected.
   */
  release?(chunk: PeerChunkMessage): void;
  /**
   * Optional: lets the all-reduce name, per arriving chunk header, the array the chunk's data
   * should be written into directly (its final place in the vector), saving a copy. The
   * transport writes there only when the array has exactly the announced length; `undefined`
   * stops asking. The all-reduce still receives and checks the chunk as usual.
   */
  setDestinations?(destinations: ((header: PeerChunkHeader) => Float32Array | undefined) | undefined): void;
  /** Closes the links; `reason`, when given, is sent to the neighbours as an `error` message. */
  close(reason?: unknown): Promise<void>;
}

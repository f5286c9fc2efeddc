/** What the all-reduce bench and its rank processes say to each other over IPC. */
import type { PeerAddress, RingMember } from '@ringtrain/protocol';
import type { WireFormat } from '../src/allreduce/index.ts';

export type BenchRequest =
  | { type: 'join'; join: { generation: number; rank: number; worldSize: number; ring: RingMember[]; maxBucketBytes?: number; bucketsInFlight?: number } }
  /** One all-reduce of a vector of `elements` floats with `wireFormat` on the wire. */
  | { type: 'call'; elements: number; wireFormat: WireFormat }
  /**
   * Open a raw TCP server this rank will stream to the other from: rank 0's for transfers, or,
   * with `exchange`, one of ranks 0 and 1 for exchanges (sending from memory of the transfer's length).
   */
  | { type: 'raw-listen'; exchange: boolean }
  /** Connect to the other rank's raw TCP server of that kind, to receive from it. */
  | { type: 'raw-connect'; port: number; exchange: boolean }
  /** Rank 1: the next raw transfer carries `bytes`; acknowledge it once all have arrived. */
  | { type: 'raw-expect'; bytes: number }
  /** Rank 1: the CPU time the last complete transfer cost it. */
  | { type: 'raw-received' }
  /** Rank 0: stream `bytes` to rank 1 and time it until rank 1's acknowledgement. */
  | { type: 'raw-send'; bytes: number }
  /** Ranks 0 and 1: the next exchange carries `bytes` each way; CPU time counts from here. */
  | { type: 'exchange-expect'; bytes: number }
  /**
   * Ranks 0 and 1 at once: stream `bytes` to the other rank while receiving as many from it, on
   * the exchange connections; time it until both are done.
   */
  | { type: 'exchange'; bytes: number }
  | { type: 'exit' };

export type BenchReply =
  | { type: 'listening'; address: PeerAddress }
  | { type: 'joined' }
  | { type: 'called'; durationMs: number; cpuMs: number; bytesSent: number }
  | { type: 'raw-listening'; port: number }
  | { type: 'raw-ready' }
  | { type: 'raw-sent'; durationMs: number; cpuMs: number }
  | { type: 'raw-received'; cpuMs: number }
  | { type: 'exchanged'; durationMs: number; cpuMs: number }
  | { type: 'failed'; message: string };

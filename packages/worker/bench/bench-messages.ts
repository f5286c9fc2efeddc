/** What the all-reduce bench and its rank processes say to each other over IPC. */
import type { PeerAddress, RingMember } from '@ringtrain/protocol';

export type BenchRequest =
  | { type: 'join'; join: { generation: number; rank: number; worldSize: number; ring: RingMember[]; maxBucketBytes?: number; bucketsInFlight?: number } }
  | { type: 'run'; elements: number; warmup: number; repetitions: number }
  | { type: 'exit' };

export type BenchReply =
  | { type: 'listening'; address: PeerAddress }
  | { type: 'joined' }
  | { type: 'ran'; timesMs: number[]; cpuMsPerCall: number }
  | { type: 'failed'; message: string };

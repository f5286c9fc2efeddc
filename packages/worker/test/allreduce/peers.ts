/** Helpers for tests over real sockets: rings of peer servers in this process, and misbehaving peers. */
import { PROTOCOL_VERSION, encodeMessage, msgpackCodec } from '@ringtrain/protocol';
import type { PeerAddress, RingMember } from '@ringtrain/protocol';
import { WebSocket } from 'ws';
import { startPeerServer } from '../../src/allreduce/index.ts';
import type { PeerLogger, PeerServer, RingAllReduce, RingAllReduceOptions } from '../../src/allreduce/index.ts';

export const TOKEN = 'the-run-token';

/** A logger that keeps what it is told. */
export function recordingLogger(): PeerLogger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, warn: (_details, message) => warnings.push(message) };
}

export interface LocalRing {
  servers: PeerServer[];
  rings: RingAllReduce[];
  members: RingMember[];
  close(): Promise<void>;
}

/** `worldSize` peer servers in this process, joined into one ring of `generation`. */
export async function localRing(worldSize: number, options: RingAllReduceOptions & { generation?: number; logger?: PeerLogger } = {}): Promise<LocalRing> {
  const servers = await Promise.all(Array.from({ length: worldSize }, () => startPeerServer({ token: TOKEN, logger: options.logger })));
  const members = servers.map((server, rank) => ({ rank, workerId: `worker-${rank}`, address: server.address }));
  const rings = await Promise.all(
    servers.map((server, rank) => server.joinRing({ ...options, generation: options.generation ?? 1, rank, worldSize, ring: members })),
  );
  return {
    servers,
    rings,
    members,
    close: async () => {
      await Promise.all(rings.map((ring) => ring.close()));
      await Promise.all(servers.map((server) => server.close()));
    },
  };
}

export interface Refusal {
  code: number;
  reason: string;
  /** The `error` messages received before the close, decoded. */
  errors: { code: string; message: string }[];
}

/** Connects to `address` as a peer, sends `frames` once open, and resolves with how the server closed. */
export function knock(address: PeerAddress, frames: (Uint8Array | string)[], options: { maxPayload?: number } = {}): Promise<Refusal> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://${address.host}:${address.port}/`, { perMessageDeflate: false, maxPayload: options.maxPayload });
    const errors: Refusal['errors'] = [];
    socket.on('open', () => {
      for (const frame of frames) socket.send(frame, { binary: typeof frame !== 'string' });
    });
    socket.on('message', (data: Buffer) => {
      const message = msgpackCodec.decode(data) as { type?: string; code: string; message: string };
      if (message.type === 'error') errors.push({ code: message.code, message: message.message });
    });
    socket.on('error', () => {});
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString('utf8'), errors }));
    setTimeout(() => reject(new Error('the server did not close the connection')), 15_000).unref();
  });
}

/** A `peer-hello`, with fields overridden (types bypassed on purpose). */
export function helloFrame(fields: Record<string, unknown> = {}): Uint8Array {
  return msgpackCodec.encode({ v: PROTOCOL_VERSION, type: 'peer-hello', token: TOKEN, generation: 1, rank: 1, ...fields });
}

export { encodeMessage };

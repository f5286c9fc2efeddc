/**
 * The worker's ring, as the control loop sees it (`RingEndpoint`/`RingSession`), over the ring
 * all-reduce of `./allreduce`.
 */
import { startPeerServer } from './allreduce/index.ts';
import type { RingListen } from './ports.ts';

export const listenForRing: RingListen = async (options) => {
  const server = await startPeerServer({ host: options.host, port: options.port, advertiseHost: options.advertiseHost, token: options.token });
  return {
    address: server.address,
    async join(assignment) {
      const ring = await server.joinRing(assignment);
      return {
        async allReduce(flat, step) {
          const result = await ring.allReduce(flat, { step, average: true });
          return { averaged: result.data, waitMs: result.waitMs, sentBytes: result.bytesSent, receivedBytes: result.bytesReceived };
        },
        close: () => ring.close(),
      };
    },
    close: () => server.close(),
  };
};

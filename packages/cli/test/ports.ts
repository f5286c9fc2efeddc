/** Free loopback ports for the integration suites. */
import { createServer } from 'node:net';

function tryListen(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(null));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const chosen = typeof address === 'object' && address !== null ? address.port : null;
      server.close(() => resolve(chosen));
    });
  });
}

/** A port nothing listens on now (another process may take it before it is used; tests accept that). */
export async function freePort(): Promise<number> {
  const port = await tryListen(0);
  if (port === null) throw new Error('the system gave no free port on 127.0.0.1');
  return port;
}

/** The first of `count` consecutive free ports. */
export async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = await freePort();
    if (first + count - 1 > 65_535) continue;
    let all = true;
    for (let i = 1; i < count && all; i++) all = (await tryListen(first + i)) !== null;
    if (all) return first;
  }
  throw new Error(`found no ${count} consecutive free ports on 127.0.0.1`);
}

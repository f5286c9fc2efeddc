/**
 * Coordinator memory under a flood of unauthenticated connections.
 *
 *   npm run bench:preauth -- [--connections 1000] [--frame-mib 60] [--bounds both|default|opened-up]
 *
 * Starts a `ringtrain coordinator` (a small real Fashion-MNIST subset, waiting for workers that
 * never come), reads its resident memory idle, then opens `--connections` WebSocket connections
 * that each, before any hello, send one frame of `--frame-mib` MiB, and reads it again at the
 * peak and once the connections are gone. It runs twice in the same run: with the default bounds
 * before authentication, and with them opened up as far as the options go (hello up to
 * maxMessageBytes, no cap on unauthenticated connections or handshakes), which is how the port
 * behaved before it had them. Prints a table; `--json` prints one object per row.
 */
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { runRingtrain } from '../test/launch-helpers.ts';
import { residentMiB } from '../test/support/resident-memory.ts';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '1000' },
    'frame-mib': { type: 'string', default: '60' },
    bounds: { type: 'string', default: 'both' },
    json: { type: 'boolean', default: false },
  },
});
const connections = Number(values.connections);
const frameBytes = Number(values['frame-mib']) * 1024 * 1024;
const TOKEN = 'preauth-bench-token-0123456789abcdef';

/** One unauthenticated connection that sends one frame; resolves when the coordinator is done with it. */
function attack(url: string, frame: Uint8Array): Promise<'refused' | 'closed'> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url);
    socket.on('error', () => {});
    socket.once('unexpected-response', () => {
      socket.terminate();
      resolve('refused');
    });
    socket.once('open', () => {
      socket.send(frame, { binary: true }, () => {});
    });
    // Closed by the coordinator: cut at maxHelloBytes (1009), or, opened up, refused once the
    // whole frame was read (it is no message of the protocol).
    socket.once('close', () => resolve('closed'));
  });
}

async function measure(label: string, extra: string[]): Promise<Record<string, number | string>> {
  const coordinator = runRingtrain(
    ['coordinator', '--port', '0', '--min-workers', '2', '--limit-train', '512', '--limit-test', '128', '--log-format', 'json', '--log-level', 'warn', '--rendezvous-timeout-ms', '600000', ...extra],
    { RINGTRAIN_TOKEN: TOKEN },
  );
  const url = await coordinator.url;
  await new Promise((r) => setTimeout(r, 1000));
  const idle = residentMiB(coordinator.pid);
  const frame = new Uint8Array(frameBytes);
  let peak = idle;
  const sampler = setInterval(() => (peak = Math.max(peak, residentMiB(coordinator.pid))), 50);
  const t0 = performance.now();
  const outcomes = await Promise.all(Array.from({ length: connections }, () => attack(url, frame)));
  const seconds = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 1000));
  clearInterval(sampler);
  const after = residentMiB(coordinator.pid);
  const logBytes = coordinator.output().length;
  coordinator.kill('SIGTERM');
  await coordinator.exited;
  const count = (o: string): number => outcomes.filter((x) => x === o).length;
  return { bounds: label, idleMiB: idle, peakMiB: peak, peakOverIdleMiB: peak - idle, afterMiB: after, refused503: count('refused'), closed: count('closed'), seconds, logBytes };
}

const rows: Record<string, number | string>[] = [];
if (values.bounds !== 'opened-up') rows.push(await measure('default', []));
if (values.bounds !== 'default') {
  rows.push(await measure('opened up', ['--max-hello-bytes', String(64 * 1024 * 1024), '--max-unauthenticated', '100000', '--max-handshakes-per-second', '100000']));
}
if (values.json) {
  for (const row of rows) console.log(JSON.stringify(row));
} else {
  console.log(`${connections} unauthenticated connections, each sending one ${values['frame-mib']} MiB frame before any hello`);
  const head = ['bounds', 'idle MiB', 'peak MiB', 'peak − idle', 'after MiB', 'HTTP 503', 'closed', 's', 'log bytes'];
  console.log(head.map((h) => h.padEnd(12)).join(''));
  for (const r of rows) {
    const cells = [r.bounds, r.idleMiB, r.peakMiB, r.peakOverIdleMiB, r.afterMiB, r.refused503, r.closed, r.seconds, r.logBytes].map((v) => (typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(1) : String(v)));
    console.log(cells.map((c) => c.padEnd(12)).join(''));
  }
}

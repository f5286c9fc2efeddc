/**
 * One delay relay as a process of its own, for the cluster benchmark to start inside a host's
 * network namespace: `relay-process.ts LISTEN_HOST:PORT TARGET_HOST:PORT DELAY_MS`. It prints
 * `listening` once it accepts connections, and its counters as one JSON line when sent SIGTERM.
 * It ends when its stdin closes, so a benchmark that dies leaves no relay behind.
 */
import { DelayRelay } from './delay-relay.ts';

function endpoint(text: string | undefined, what: string): { host: string; port: number } {
  const match = /^([\d.]+):(\d+)$/.exec(text ?? '');
  if (match === null) throw new Error(`${what} must be HOST:PORT, got ${String(text)}`);
  return { host: match[1] as string, port: Number(match[2]) };
}

const [listenText, targetText, delayText] = process.argv.slice(2);
const listen = endpoint(listenText, 'the listen address');
const target = endpoint(targetText, 'the target address');
const delayMs = Number(delayText);
const relay = await DelayRelay.start({ listenHost: listen.host, listenPort: listen.port, targetHost: target.host, targetPort: target.port, delayMs });
process.stdout.write('listening\n');
process.once('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify(relay.stats())}\n`);
  void relay.close().then(() => process.exit(0));
});
process.stdin.resume();
process.stdin.once('close', () => process.exit(0));

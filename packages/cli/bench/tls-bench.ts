/**
 * What TLS costs a run across hosts.
 *
 *   npm run bench:tls [-- --steps 60 --width 1 --json]
 *
 * A coordinator and two workers, each in a network namespace of its own on real addresses (veth
 * pairs to one bridge; needs root), train ResNet-18 for `--steps` steps twice in this run: in
 * cleartext, and over mutual TLS on every link (certificates made with openssl for those
 * addresses). Prints examples per second, the step split and the ratio.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readSummary } from '../test/launch-helpers.ts';
import { makeCertificates } from '../test/support/certificates.ts';
import { namespacesUnavailable, TestNetwork } from '../test/support/network-hosts.ts';
import { until } from '../test/support/worker-processes.ts';

const { values } = parseArgs({ options: { steps: { type: 'string', default: '60' }, width: { type: 'string', default: '1' }, json: { type: 'boolean', default: false } } });
const steps = Number(values.steps);
const BATCH = 256;
const TOKEN = 'tls-bench-token-0123456789abcdef';

const unavailable = namespacesUnavailable();
if (unavailable !== null) {
  console.error(`bench:tls needs network namespaces: ${unavailable}`);
  process.exit(1);
}

async function run(tls: boolean): Promise<{ examplesPerSecond: number; computeMs: number; allReduceMs: number; waitMs: number; testAccuracy: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'ringtrain-tls-bench-'));
  const network = new TestNetwork(`rb${process.pid % 10_000}`);
  const processes: ChildProcess[] = [];
  try {
    const coordinator = network.addHost('coord');
    const workers = ['w0', 'w1'].map((name) => network.addHost(name));
    const certs = makeCertificates(dir, [coordinator.address, ...workers.map((w) => w.address)]);
    const tlsArgs = tls ? ['--tls-cert', certs.cert, '--tls-key', certs.key, '--tls-ca', certs.ca] : [];
    const env = { ...process.env, RINGTRAIN_TOKEN: TOKEN };
    const server = network.ringtrain('coord', [
      'coordinator', '--host', coordinator.address, '--port', '7070', '--min-workers', '2',
      '--model', 'resnet18', '--width', values.width ?? '1', '--batch-size', String(BATCH), '--limit-train', String(BATCH * steps), '--limit-test', '0',
      '--summary-json', join(dir, 'summary.json'), '--log-format', 'json', ...tlsArgs, ...(tls ? ['--tls-require-client-cert'] : []),
    ], env);
    processes.push(server.child);
    await until('the coordinator listens', () => server.output().includes('coordinator listening on'));
    for (const w of workers) {
      const args = ['worker', '--coordinator', `${tls ? 'wss' : 'ws'}://${coordinator.address}:7070`, '--worker-id', w.name, '--peer-host', w.address, '--metrics-port', '0', '--workers-per-machine', '2', '--log-level', 'warn'];
      processes.push(network.ringtrain(w.name, [...args, ...tlsArgs], env).child);
    }
    const code = await server.exited;
    if (code !== 0) throw new Error(`the ${tls ? 'TLS' : 'cleartext'} run failed (${code}):\n${server.output().slice(-2000)}`);
    const summary = await readSummary(join(dir, 'summary.json'));
    return { examplesPerSecond: summary.examplesPerSecond, computeMs: summary.meanComputeMs, allReduceMs: summary.meanAllReduceMs, waitMs: summary.meanWaitMs, testAccuracy: summary.testAccuracy ?? NaN };
  } finally {
    for (const p of processes) if (p.exitCode === null) p.kill('SIGKILL');
    network.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

const plain = await run(false);
const secure = await run(true);
if (values.json) {
  console.log(JSON.stringify({ links: 'cleartext', ...plain }));
  console.log(JSON.stringify({ links: 'mutual TLS', ...secure }));
} else {
  console.log(`ResNet-18 ×${values.width}, 2 workers and a coordinator in network namespaces, global batch ${BATCH}, ${steps} steps`);
  console.log('links        examples/s  compute ms  all-reduce ms  waiting ms');
  for (const [name, r] of [['cleartext', plain], ['mutual TLS', secure]] as const) {
    console.log(`${name.padEnd(13)}${r.examplesPerSecond.toFixed(1).padStart(10)}  ${r.computeMs.toFixed(1).padStart(10)}  ${r.allReduceMs.toFixed(1).padStart(13)}  ${r.waitMs.toFixed(1).padStart(10)}`);
  }
  console.log(`throughput with TLS / cleartext: ${(secure.examplesPerSecond / plain.examplesPerSecond).toFixed(3)}`);
}

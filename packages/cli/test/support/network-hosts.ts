/**
 * Hosts of a test cluster on this machine: one network namespace per host, each with a veth
 * link to a bridge in a namespace of its own, addresses in a range that exists only inside
 * those namespaces. A host's link can be taken down and up again (a partition), which no
 * loopback test can do. Needs root and iproute2; `available()` says whether they are there.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const RINGTRAIN_BIN = fileURLToPath(new URL('../../bin/ringtrain.js', import.meta.url));

/** A `ringtrain` process inside a test host. */
export interface HostProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

const SUBNET = '10.231.7';

export interface TestHost {
  name: string;
  namespace: string;
  address: string;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Whether namespaces can be made here (root with iproute2), and if not, why. */
export function namespacesUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'iproute2 (`ip netns`) is not installed';
  }
}

export class TestNetwork {
  readonly hosts: TestHost[] = [];
  readonly #lan: string;

  /** `prefix` names the namespaces (`<prefix>-lan`, `<prefix>-<host>`); leftovers of a crashed run are removed. */
  constructor(readonly prefix: string) {
    this.#lan = `${prefix}-lan`;
    this.destroy();
    ip('netns', 'add', this.#lan);
    ip('-n', this.#lan, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', this.#lan, 'link', 'set', 'br0', 'up');
  }

  /** Adds host `name` at the next address of the range. */
  addHost(name: string): TestHost {
    const namespace = `${this.prefix}-${name}`;
    const address = `${SUBNET}.${this.hosts.length + 1}`;
    const port = `p-${name}`.slice(0, 15);
    ip('netns', 'add', namespace);
    ip('-n', namespace, 'link', 'set', 'lo', 'up');
    ip('-n', namespace, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', port, 'netns', this.#lan);
    ip('-n', namespace, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
    ip('-n', namespace, 'link', 'set', 'eth0', 'up');
    ip('-n', this.#lan, 'link', 'set', port, 'master', 'br0');
    ip('-n', this.#lan, 'link', 'set', port, 'up');
    const host = { name, namespace, address };
    this.hosts.push(host);
    return host;
  }

  /** Cuts host `name` off the network (its link goes down on the bridge side), or heals it. */
  partition(name: string, cut: boolean): void {
    ip('-n', this.#lan, 'link', 'set', `p-${name}`.slice(0, 15), cut ? 'down' : 'up');
  }

  /**
   * Limits host `name`'s link to `rateBitsPerSecond` each way: a token bucket (`tc qdisc tbf`) on
   * the host's side of its veth and on the bridge's. The bucket holds a millisecond of traffic
   * (at least 64 KiB, one segmentation-offload packet) and the queue behind it 20 ms.
   */
  shapeLink(name: string, rateBitsPerSecond: number): void {
    const host = this.hosts.find((h) => h.name === name);
    if (host === undefined) throw new Error(`no test host ${name}`);
    const burstBytes = Math.max(64 * 1024 + 1514, Math.ceil(rateBitsPerSecond / 8 / 1000));
    const tbf = ['root', 'tbf', 'rate', `${rateBitsPerSecond}bit`, 'burst', String(burstBytes), 'latency', '20ms'];
    execFileSync('ip', ['netns', 'exec', host.namespace, 'tc', 'qdisc', 'replace', 'dev', 'eth0', ...tbf], { stdio: ['ignore', 'ignore', 'pipe'] });
    execFileSync('ip', ['netns', 'exec', this.#lan, 'tc', 'qdisc', 'replace', 'dev', `p-${name}`.slice(0, 15), ...tbf], { stdio: ['ignore', 'ignore', 'pipe'] });
  }

  /** Bytes host `name` has sent on its link so far (its veth's transmit counter). */
  sentBytes(name: string): number {
    const host = this.hosts.find((h) => h.name === name);
    if (host === undefined) throw new Error(`no test host ${name}`);
    return Number(execFileSync('ip', ['netns', 'exec', host.namespace, 'cat', '/sys/class/net/eth0/statistics/tx_bytes'], { encoding: 'utf8' }).trim());
  }

  /** Runs `command` inside host `name`'s namespace. */
  spawn(name: string, command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    const host = this.hosts.find((h) => h.name === name);
    if (host === undefined) throw new Error(`no test host ${name}`);
    return spawn('ip', ['netns', 'exec', host.namespace, command, ...args], options);
  }

  /** Runs `ringtrain ...args` inside host `name`'s namespace, keeping what it prints. */
  ringtrain(name: string, args: string[], env: NodeJS.ProcessEnv): HostProcess {
    const child = this.spawn(name, process.execPath, [RINGTRAIN_BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    return { child, output: () => output, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
  }

  /** Removes every namespace of this network (and with them their links). */
  destroy(): void {
    let names: string[] = [];
    try {
      names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
        .split('\n')
        .map((l) => l.split(' ')[0] ?? '')
        .filter((n) => n === this.#lan || n.startsWith(`${this.prefix}-`));
    } catch {
      return;
    }
    for (const name of names) ip('netns', 'del', name);
  }
}

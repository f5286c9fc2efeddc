/**
 * End to end, with real processes and real sockets: `ringtrain launch` starts a coordinator and
 * worker processes that train a small ResNet on real Fashion-MNIST images. One run per world
 * size is shared by several assertions to keep the suite to a few minutes on two cores.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeMessage, PROTOCOL_VERSION } from '@ringtrain/protocol';
import { readCheckpoint } from '@ringtrain/coordinator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { readStepLog, readSummary, runRingtrain, type StepLine } from './launch-helpers.ts';
import type { RunSummary } from '../src/index.ts';

const TRAIN = 3000;
const TEST = 1000;
const EPOCHS = 2;
/** A tiny-width ResNet-18 with the d2l stem trains in seconds at 28×28. */
const MODEL_FLAGS = ['--model', 'resnet18', '--stem', 'd2l', '--width', '0.25', '--image-size', '28'];

interface Refusal {
  closeCode: number;
  error: string;
}

/** Opens a connection to the coordinator, sends `frame`, and collects the `error` text and close code. */
async function refusalOf(url: string, frame: Buffer | string): Promise<Refusal> {
  const socket = new WebSocket(url);
  return new Promise<Refusal>((resolve, reject) => {
    let error = '';
    socket.on('open', () => socket.send(frame));
    socket.on('message', (data: Buffer) => {
      // The error message arrives as msgpack; its text is readable in the raw bytes.
      error = data.toString('latin1');
    });
    socket.on('close', (closeCode) => resolve({ closeCode, error }));
    // A refused upload may break the pipe before the close frame is read; the close still tells the code.
    socket.on('error', () => {});
    void reject;
  });
}

function hello(token: string, v = PROTOCOL_VERSION): Buffer {
  return Buffer.from(
    encodeMessage({ v, type: 'hello', token, workerId: `intruder-${v}-${token.length}`, hostname: 'test', pid: 1, backend: 'none', peerAddress: { host: '127.0.0.1', port: 9 }, generation: 0, heartbeatsDuringSteps: true, peerTls: false }),
  );
}

describe.each([2, 3])('a launch of %i workers on real Fashion-MNIST', (workers) => {
  let dir: string;
  let summary: RunSummary;
  let steps: StepLine[][];
  let refusals: Record<string, Refusal>;
  let stdout: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ringtrain-e2e-${workers}-`));
    const summaryPath = join(dir, 'summary.json');
    const run = runRingtrain([
      'launch',
      '--workers', String(workers),
      '--port', '0',
      ...MODEL_FLAGS,
      '--epochs', String(EPOCHS),
      '--batch-size', '30',
      // The recipe of the model package's own convergence test.
      '--lr', '0.1',
      '--lr-schedule', 'cosine',
      '--warmup-steps', '20',
      '--momentum', '0.9',
      '--nesterov',
      '--weight-decay', '5e-4',
      '--backend', 'wasm',
      '--limit-train', String(TRAIN),
      '--limit-test', String(TEST),
      '--checksum-every', '1',
      '--max-message-bytes', String(8 * 1024 * 1024),
      '--checkpoint-dir', join(dir, 'checkpoints'),
      '--step-log-dir', dir,
      '--summary-json', summaryPath,
    ]);
    const url = await run.url;
    // Strangers knock while the honest workers train.
    refusals = {
      badToken: await refusalOf(url, hello('not-the-token-of-this-run')),
      wrongVersion: await refusalOf(url, hello('not-the-token-of-this-run', PROTOCOL_VERSION + 1)),
      garbage: await refusalOf(url, Buffer.from([0xc1, 0xff, 0x00, 0x13, 0x37])),
      oversized: await refusalOf(url, Buffer.alloc(9 * 1024 * 1024, 7)),
    };
    const result = await run.exited;
    stdout = result.stdout;
    expect(result.code, `ringtrain launch failed:\n${result.stdout}\n${result.stderr}`).toBe(0);
    summary = await readSummary(summaryPath);
    steps = await Promise.all(Array.from({ length: workers }, (_, i) => readStepLog(join(dir, `worker-${i}.jsonl`))));
  }, 600_000);

  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('keeps every replica bit-identical: the weight checksums of all ranks agree at every step', () => {
    expect(summary.workers).toBe(workers);
    expect(summary.steps).toBeGreaterThan(20);
    expect(summary.checksumsAgreed).toBe(summary.steps);
  });

  it('trains on every sample of an epoch exactly once across the workers', () => {
    for (let epoch = 0; epoch < EPOCHS; epoch++) {
      const used = steps.flatMap((log) => log.filter((s) => s.epoch === epoch).flatMap((s) => s.indices));
      const counts = new Map<number, number>();
      for (const index of used) counts.set(index, (counts.get(index) ?? 0) + 1);
      // 3000 divides by 2 and 3, so no rank needs padding; the last batch of an epoch is shorter.
      expect(used).toHaveLength(TRAIN);
      expect(counts.size).toBe(TRAIN);
      expect([...counts.values()].every((c) => c === 1)).toBe(true);
    }
  });

  it('runs the same steps on every rank', () => {
    const stepNumbers = steps.map((log) => log.map((s) => s.step));
    for (const numbers of stepNumbers) expect(numbers).toEqual(stepNumbers[0]);
  });

  it('lowers the loss and beats 0.75 test accuracy', () => {
    const first = summary.history[0];
    const last = summary.history[summary.history.length - 1];
    expect(first).toBeDefined();
    expect(last?.trainLoss).toBeLessThan(first?.trainLoss ?? 0);
    const early = steps[0]?.slice(0, 5).reduce((s, x) => s + x.loss, 0) ?? 0;
    expect(last?.trainLoss ?? Infinity).toBeLessThan(early / 5);
    expect(summary.testAccuracy).toBeGreaterThan(0.75);
    expect(summary.epochs).toBe(EPOCHS);
    expect(stdout).toContain('test accuracy');
  });

  it('refuses a wrong token with a clear error and a policy close', () => {
    expect(refusals['badToken']?.closeCode).toBe(1008);
    expect(refusals['badToken']?.error).toContain('wrong token');
  });

  it('refuses another protocol version with a protocol-error close, naming the version', () => {
    expect(refusals['wrongVersion']?.closeCode).toBe(1002);
    expect(refusals['wrongVersion']?.error).toContain('RINGTRAIN_WRONG_VERSION');
    expect(refusals['wrongVersion']?.error).toContain(String(PROTOCOL_VERSION + 1));
  });

  it('refuses a garbage frame', () => {
    expect([1002, 1003, 1007, 1008]).toContain(refusals['garbage']?.closeCode);
    expect(refusals['garbage']?.error).toContain('refused a message');
  });

  it('refuses a frame over the message limit with close code 1009', () => {
    expect(refusals['oversized']?.closeCode).toBe(1009);
  });

  it('writes a checkpoint after every epoch that reads back whole', async () => {
    const names = (await readdir(join(dir, 'checkpoints'))).filter((n) => n.endsWith('.rtck'));
    expect(names.length).toBe(EPOCHS);
    const newest = await readCheckpoint(join(dir, 'checkpoints', names.sort().at(-1) ?? ''));
    expect(newest.header.step).toBe(summary.steps);
    expect(newest.header.position).toEqual({ epoch: EPOCHS, offset: 0 });
  });
});

/**
 * Fuzzing a running job's ports. A coordinator and two workers train on real Fashion-MNIST twice
 * with the same seed: once undisturbed, once while a fuzzer (`support/port-fuzzer.ts`) sends
 * structure-aware mutations of every message type, oversized frames and raw garbage to the
 * coordinator port and to one worker's peer port, at least FRAMES_PER_PORT frames to each, all
 * of them while training is under way. Both runs must end alike to the bit: the same losses at
 * every step, the same test figures, the same final weights; no process may crash, the world
 * may never change, and the peak resident memory of the fuzzed processes from the start of
 * training to the end may exceed the undisturbed run's by at most MEMORY_BOUND_MIB.
 *
 * The handshake rate and unauthenticated connection caps are opened up for this run: they are
 * tested on their own (`coordinator/test/admission.test.ts`, the peer server's tests), and here
 * every handshake should reach a parser. A refused connection takes tens of milliseconds to
 * close, so the fuzzer keeps many in flight.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findNewestValidCheckpoint } from '@ringtrain/coordinator';
import { channels, examples } from '@ringtrain/protocol/testing';
import type { Message } from '@ringtrain/protocol';
import { readSummary, runRingtrain, type StepLine } from './launch-helpers.ts';
import { freePort } from './ports.ts';
import { fuzzPort, type FuzzTally } from './support/port-fuzzer.ts';
import { readCommittedSteps } from './support/committed-steps.ts';
import { ResidentPeak } from './support/resident-memory.ts';
import { readJsonLines, startWorker, until, type WorkerProcess } from './support/worker-processes.ts';
import type { RunSummary } from '../src/index.ts';

const TOKEN = 'port-fuzz-token-0123456789abcdef';
const FRAMES_PER_PORT = 10_000;
/** Garbage from 20,000 connections in a minute moves the peak by tens of MiB (a leak would grow with the frames: 15,000 in rounds of 3,000 left the coordinator where it began). */
const MEMORY_BOUND_MIB = 128;
const TRAIN = 3200;
const BATCH = 64;
const EPOCHS = 12;
const TOTAL_STEPS = (TRAIN / BATCH) * EPOCHS;

interface JobResult {
  exitCode: number | null;
  output: string;
  summary: RunSummary;
  stepLogs: Map<string, StepLine[]>;
  weightsDigest: string;
  /** Peak resident MiB from the start of training to the end. */
  peakMiB: { coordinator: number; worker: number };
}

interface FuzzReport {
  coordinator: FuzzTally;
  peer: FuzzTally;
  /** Committed steps when the fuzzers finished; the run must still have been training. */
  stepsWhenDone: number;
}

async function runJob(dir: string, fuzz: boolean): Promise<{ job: JobResult; report: FuzzReport | null }> {
  await mkdir(dir, { recursive: true });
  const stepLog = join(dir, 'committed.jsonl');
  const coordinator = runRingtrain(
    [
      'coordinator', '--port', '0', '--min-workers', '2',
      '--model', 'resnet18', '--width', '0.25', '--epochs', String(EPOCHS), '--batch-size', String(BATCH),
      '--lr', '0.1', '--momentum', '0.9', '--seed', '3',
      '--limit-train', String(TRAIN), '--limit-test', '500',
      '--max-handshakes-per-second', '100000', '--max-unauthenticated', '128',
      '--step-log', stepLog, '--summary-json', join(dir, 'summary.json'), '--checkpoint-dir', join(dir, 'checkpoints'),
      '--log-format', 'json',
    ],
    { RINGTRAIN_TOKEN: TOKEN },
  );
  const url = await coordinator.url;
  const peerPort = await freePort();
  const workers: WorkerProcess[] = [
    startWorker(url, dir, 'a', TOKEN, ['--peer-port', String(peerPort), '--peer-max-handshakes-per-second', '100000', '--peer-max-unauthenticated', '64']),
    startWorker(url, dir, 'b', TOKEN),
  ];
  let report: FuzzReport | null = null;
  try {
    await until('training is under way', async () => (await readCommittedSteps(stepLog)).length >= 2);
    const coordinatorPeak = new ResidentPeak(coordinator.pid);
    const workerPeak = new ResidentPeak(workers[0]?.child.pid ?? -1);
    if (fuzz) {
      let ended = false;
      void coordinator.exited.then(() => (ended = true));
      const of = (types: readonly string[]): Message[] => types.map((t) => examples[t as keyof typeof examples] as Message);
      const [coordinatorTally, peerTally] = await Promise.all([
        fuzzPort({ url, examples: of(channels.workerToCoordinator), seed: 0xc0de }, { frames: FRAMES_PER_PORT, concurrency: 48, stopped: () => ended }),
        fuzzPort({ url: `ws://127.0.0.1:${peerPort}`, examples: of(channels.peer), seed: 0xfeed }, { frames: FRAMES_PER_PORT, concurrency: 16, stopped: () => ended }),
      ]);
      report = { coordinator: coordinatorTally, peer: peerTally, stepsWhenDone: ended ? TOTAL_STEPS : (await readCommittedSteps(stepLog)).length };
    }
    const exited = await coordinator.exited;
    await Promise.all(workers.map((w) => w.exited));
    const peakMiB = { coordinator: coordinatorPeak.stop(), worker: workerPeak.stop() };
    const checkpoint = await findNewestValidCheckpoint(join(dir, 'checkpoints'));
    const stepLogs = new Map<string, StepLine[]>();
    for (const id of ['a', 'b']) stepLogs.set(id, await readJsonLines<StepLine>(join(dir, `${id}.jsonl`)));
    return {
      job: {
        exitCode: exited.code,
        output: `${exited.stdout}\n${exited.stderr}\n${workers.map((w) => w.output()).join('\n')}`,
        summary: await readSummary(join(dir, 'summary.json')),
        stepLogs,
        weightsDigest: createHash('sha256').update(checkpoint.state).digest('hex'),
        peakMiB,
      },
      report,
    };
  } finally {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    coordinator.kill('SIGKILL');
  }
}

/**
 * Step, loss and indices of every step both workers trained, as sorted text: equal lists mean
 * equal bits. Which worker got which rank depends on the order they joined in, so the lists are
 * not compared worker by worker.
 */
const stepsOf = (job: JobResult): string[] =>
  [...job.stepLogs.values()].flat().map((l) => `${l.step}:${l.loss}:${l.indices.join(',')}`).sort();

describe('a running job fuzzed on its coordinator port and a peer port', () => {
  let dir: string;
  let plain: JobResult;
  let fuzzed: JobResult;
  let report: FuzzReport;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ringtrain-port-fuzz-'));
    plain = (await runJob(join(dir, 'plain'), false)).job;
    const run = await runJob(join(dir, 'fuzzed'), true);
    fuzzed = run.job;
    report = run.report as FuzzReport;
    process.stdout.write(
      `port fuzz: coordinator ${report.coordinator.frames} frames (${report.coordinator.oversizedFrames} oversized, ${report.coordinator.rawGarbage} raw, ${report.coordinator.refusedHandshakes} handshakes refused), ` +
        `peer ${report.peer.frames} frames (${report.peer.oversizedFrames} oversized, ${report.peer.rawGarbage} raw, ${report.peer.refusedHandshakes} refused); ` +
        `done at step ${report.stepsWhenDone} of ${TOTAL_STEPS}; peak resident MiB while training, undisturbed → fuzzed: ` +
        `coordinator ${plain.peakMiB.coordinator.toFixed(1)} → ${fuzzed.peakMiB.coordinator.toFixed(1)}, worker ${plain.peakMiB.worker.toFixed(1)} → ${fuzzed.peakMiB.worker.toFixed(1)}\n`,
    );
  }, 900_000);

  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('both runs finish with exit 0, every worker included', () => {
    expect(plain.exitCode, plain.output).toBe(0);
    expect(fuzzed.exitCode, fuzzed.output).toBe(0);
    expect(fuzzed.summary.steps).toBe(TOTAL_STEPS);
  });

  it(`sent at least ${FRAMES_PER_PORT} frames to each port, all while the run was training`, () => {
    expect(report.coordinator.frames).toBeGreaterThanOrEqual(FRAMES_PER_PORT);
    expect(report.peer.frames).toBeGreaterThanOrEqual(FRAMES_PER_PORT);
    expect(report.stepsWhenDone, 'the run ended before the fuzzers were done: make it longer').toBeLessThan(TOTAL_STEPS);
  });

  it('every fuzzed connection was refused by the port: closed with a protocol close code, none left hanging', () => {
    for (const tally of [report.coordinator, report.peer]) {
      expect(tally.unanswered).toBe(0);
      for (const code of tally.closeCodes.keys()) expect([1002, 1003, 1006, 1007, 1008, 1009]).toContain(code);
    }
  });

  it('changed nothing: one generation, no step discarded, the same loss at every step, the same test figures and final weights', () => {
    expect(fuzzed.summary.generations).toBe(1);
    expect(fuzzed.summary.stepsDiscarded).toBe(0);
    expect(stepsOf(plain).length).toBe(2 * TOTAL_STEPS);
    expect(stepsOf(fuzzed)).toEqual(stepsOf(plain));
    expect(fuzzed.summary.testLoss).toBe(plain.summary.testLoss);
    expect(fuzzed.summary.testAccuracy).toBe(plain.summary.testAccuracy);
    expect(fuzzed.summary.trainLoss).toBe(plain.summary.trainLoss);
    expect(fuzzed.weightsDigest).toBe(plain.weightsDigest);
  });

  it(`kept the peak resident memory of the coordinator and the fuzzed worker within ${MEMORY_BOUND_MIB} MiB of the undisturbed run's`, () => {
    expect(fuzzed.peakMiB.coordinator - plain.peakMiB.coordinator).toBeLessThan(MEMORY_BOUND_MIB);
    expect(fuzzed.peakMiB.worker - plain.peakMiB.worker).toBeLessThan(MEMORY_BOUND_MIB);
  });
});

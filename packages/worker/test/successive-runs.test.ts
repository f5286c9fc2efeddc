/**
 * What a worker process does once its run is over, `--after-run exit` or `wait`, decided on the
 * outcomes a `Worker` gives. (The real processes, a StatefulSet's workers outliving a run and
 * joining the next, are in packages/metrics/test/deploy-probes.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { ConnectFailedError, ConnectionLostError, RefusedError } from '../src/errors.ts';
import { ConnectionLifecycle } from '../src/lifecycle.ts';
import { BETWEEN_RUNS, SuccessiveRuns, type AfterRun, type RunnableWorker } from '../src/successive-runs.ts';
import { CONNECTION_ERROR_CODES } from '../src/wire.ts';
import type { WorkerOutcome } from '../src/worker.ts';

type Ending = WorkerOutcome | Error | 'until-shutdown';

const ended = (stepsDone: number, runFailed = false): WorkerOutcome => ({ reason: runFailed ? 'the run failed' : 'the run is complete', runFailed, stepsDone });
const runOver = () => new RefusedError('the coordinator closed the connection: the run is over', CONNECTION_ERROR_CODES.runOver);
const silentLog = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/** Workers whose runs end as `endings` say, one per run, and what the runs saw of them. */
function scripted(afterRun: AfterRun, endings: Ending[]) {
  let made = 0;
  const runs = new SuccessiveRuns({
    afterRun,
    rejoinIntervalMs: 5,
    log: silentLog,
    newWorker: (): RunnableWorker => {
      const ending = endings[made];
      made += 1;
      if (ending === undefined) throw new Error(`a worker for run ${made} that the test did not script`);
      let stop: (error: Error) => void = () => {};
      const worker: RunnableWorker = {
        workerId: 'w',
        rank: 0,
        generation: made,
        steps: 7,
        inRing: true,
        lifecycle: new ConnectionLifecycle(),
        run: () => {
          if (ending === 'until-shutdown') return new Promise((_resolve, reject) => (stop = reject));
          return ending instanceof Error ? Promise.reject(ending) : Promise.resolve(ending);
        },
        shutdown: (reason) => stop(new ConnectionLostError(`the worker was shut down: ${reason}`)),
        reloadTls: () => {},
      };
      return worker;
    },
  });
  return { runs, made: () => made };
}

describe('--after-run', () => {
  it('exit: the first run that ends ends the process, and a finished run refusing it is an error', async () => {
    expect(await scripted('exit', [ended(10)]).runs.run()).toEqual(ended(10));
    await expect(scripted('exit', [runOver()]).runs.run()).rejects.toThrow(/the run is over/);
  });

  it('wait: a run that ended, and finished runs refusing it, lead to the next dial, until a run takes it', async () => {
    const { runs, made } = scripted('wait', [ended(10), runOver(), runOver(), 'until-shutdown']);
    const done = runs.run();
    while (made() < 4) await new Promise((r) => setTimeout(r, 1));
    // The fourth worker is in its run: what the probes show is that worker's.
    expect(runs.inRing).toBe(true);
    expect(runs.generation).toBe(4);
    runs.shutdown('SIGTERM');
    // A shutdown during a run is the run's, as under exit.
    await expect(done).rejects.toThrow(/shut down: SIGTERM/);
  });

  it('wait: between runs it is alive and in no ring, and a shutdown then ends it cleanly', async () => {
    const endings: Ending[] = [ended(12)];
    for (let i = 0; i < 1000; i += 1) endings.push(runOver());
    const { runs, made } = scripted('wait', endings);
    const done = runs.run();
    while (made() < 3) await new Promise((r) => setTimeout(r, 1));
    while (runs.lifecycle.state !== BETWEEN_RUNS) await new Promise((r) => setTimeout(r, 1));
    expect({ inRing: runs.inRing, rank: runs.rank, generation: runs.generation, steps: runs.steps }).toEqual({ inRing: false, rank: null, generation: null, steps: 12 });
    runs.shutdown('SIGTERM');
    expect(await done).toEqual({ reason: 'SIGTERM', runFailed: false, stepsDone: 12 });
    const after = made();
    await new Promise((r) => setTimeout(r, 30));
    expect(made()).toBe(after);
  });

  it('wait: a coordinator out of reach is waited for after a run, and is an error before any', async () => {
    const unreachable = () => new ConnectFailedError('could not reach the coordinator');
    const { runs, made } = scripted('wait', [ended(3), unreachable(), unreachable(), ended(6, true)]);
    // A failed run ends the process as under exit, for the restart policy to see.
    expect(await runs.run()).toEqual(ended(6, true));
    expect(made()).toBe(4);
    await expect(scripted('wait', [unreachable()]).runs.run()).rejects.toThrow(/could not reach/);
  });

  it('wait: any other refusal (a wrong token) ends it', async () => {
    const badToken = new RefusedError('the coordinator closed the connection: bad token', 'RINGTRAIN_BAD_TOKEN');
    await expect(scripted('wait', [ended(3), badToken]).runs.run()).rejects.toThrow(/bad token/);
  });
});

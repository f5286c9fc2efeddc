/**
 * The live view of a run: a progress bar on a terminal (cli-progress), plain lines otherwise
 * (logs, CI), both fed from the coordinator's progress updates.
 */
import cliProgress from 'cli-progress';
import type { ProgressUpdate, TargetReached } from '@ringtrain/coordinator';

export interface ProgressView {
  update(progress: ProgressUpdate): void;
  /** Prints a line (to `stream`, by default the view's own) without breaking the bar. */
  note(line: string, stream?: NodeJS.WritableStream): void;
  stop(): void;
}

const pct = (n: number): string => (Number.isFinite(n) ? `${(n * 100).toFixed(1)}%` : '-');

export function createProgressView(stream: NodeJS.WriteStream = process.stdout): ProgressView {
  return stream.isTTY ? new BarView(stream) : new LineView(stream);
}

class BarView implements ProgressView {
  private readonly bar: cliProgress.SingleBar;
  private started = false;
  private epochs = 1;
  private testAccuracy = Number.NaN;

  constructor(private readonly stream: NodeJS.WriteStream) {
    this.bar = new cliProgress.SingleBar(
      {
        stream,
        format: 'epoch {epoch}/{epochs} {bar} step {value}/{total} | {eps} ex/s | loss {loss} | train {train} | test {test}',
        hideCursor: true,
        clearOnComplete: false,
        barsize: 24,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  update(p: ProgressUpdate): void {
    switch (p.type) {
      case 'rendezvous':
        this.note(rendezvousNote(p.joined, p.minWorkers));
        return;
      case 'started':
        this.epochs = p.epochs;
        this.note(`training with ${p.worldSize} workers, global batch ${p.globalBatchSize}, ${p.stepsPerEpoch} steps per epoch`);
        return;
      case 'step': {
        const payload = { epoch: p.epoch + 1, epochs: this.epochs, eps: p.examplesPerSecond.toFixed(1), loss: p.epochLoss.toFixed(4), train: pct(p.epochAccuracy), test: pct(this.testAccuracy) };
        if (!this.started || p.stepInEpoch === 1) {
          if (this.started) this.bar.stop();
          this.bar.start(p.stepsPerEpoch, p.stepInEpoch, payload);
          this.started = true;
        } else {
          this.bar.update(p.stepInEpoch, payload);
        }
        return;
      }
      case 'epoch':
        this.testAccuracy = p.testAccuracy;
        this.bar.update({ test: pct(p.testAccuracy) });
        return;
      case 'target-reached':
        this.note(targetLine(p));
        return;
    }
  }

  note(line: string, stream: NodeJS.WritableStream = this.stream): void {
    if (this.started) {
      this.bar.stop();
      this.started = false;
    }
    stream.write(`${line}\n`);
  }

  stop(): void {
    if (this.started) this.bar.stop();
    this.started = false;
  }
}

class LineView implements ProgressView {
  private epochs = 1;
  private every = 1;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  update(p: ProgressUpdate): void {
    switch (p.type) {
      case 'rendezvous':
        return this.note(rendezvousNote(p.joined, p.minWorkers));
      case 'started':
        this.epochs = p.epochs;
        // About twenty lines per epoch.
        this.every = Math.max(1, Math.floor(p.stepsPerEpoch / 20));
        return this.note(`training with ${p.worldSize} workers, global batch ${p.globalBatchSize}, ${p.stepsPerEpoch} steps per epoch`);
      case 'step':
        if (p.stepInEpoch % this.every !== 0 && p.stepInEpoch !== p.stepsPerEpoch) return;
        return this.note(
          `epoch ${p.epoch + 1}/${this.epochs} step ${p.stepInEpoch}/${p.stepsPerEpoch} | ${p.examplesPerSecond.toFixed(1)} ex/s | loss ${p.epochLoss.toFixed(4)} | train ${pct(p.epochAccuracy)}`,
        );
      case 'epoch':
        return this.note(
          `epoch ${p.epoch + 1}/${this.epochs} done | train loss ${p.trainLoss.toFixed(4)} | train ${pct(p.trainAccuracy)} | test ${pct(p.testAccuracy)} | ${p.examplesPerSecond.toFixed(1)} ex/s`,
        );
      case 'target-reached':
        return this.note(targetLine(p));
    }
  }

  note(line: string, stream: NodeJS.WritableStream = this.stream): void {
    stream.write(`${line}\n`);
  }

  stop(): void {}
}

function targetLine(p: TargetReached): string {
  return `test accuracy ${pct(p.testAccuracy)} reached the target ${p.target} after ${p.wallSeconds.toFixed(1)} s (epoch ${p.epoch + 1}, step ${p.step})`;
}

/** Before enough workers joined, how many are missing; after, that the run is about to start with those it has. */
function rendezvousNote(joined: number, minWorkers: number): string {
  return joined < minWorkers ? `waiting for workers: ${joined} of ${minWorkers} joined` : `${joined} worker(s) joined (${minWorkers} needed): starting once no more arrive`;
}

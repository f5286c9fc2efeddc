/**
 * The images a worker was sent, kept at their data-set index. Storing them densely by index lets
 * preprocessing use the data-set index itself, so seeded augmentation draws the same crop and
 * flip for a sample whichever worker trains on it.
 */
import type { DatasetMessage } from '@ringtrain/protocol';
import { MissingDataError, RefusedMessageError } from './errors.ts';

export class DatasetStore {
  rows = 0;
  cols = 0;
  /** rows·cols bytes per data-set index, zero where nothing was received. */
  images = new Uint8Array(0);
  labels = new Uint8Array(0);
  private held = new Uint8Array(0);
  private received = 0;

  constructor(readonly split: 'train' | 'test') {}

  /** How many distinct images arrived. */
  get size(): number {
    return this.received;
  }

  /** Stores one `dataset` chunk; rejects chunks that contradict the image size or themselves. */
  add(message: DatasetMessage): void {
    const pixels = message.rows * message.cols;
    if (this.rows === 0) {
      this.rows = message.rows;
      this.cols = message.cols;
    } else if (message.rows !== this.rows || message.cols !== this.cols) {
      throw new RefusedMessageError(`a ${this.split} chunk of ${message.rows}×${message.cols} images follows ${this.rows}×${this.cols} ones`);
    }
    const n = message.indices.length;
    if (message.images.length !== n * pixels || message.labels.length !== n) {
      throw new RefusedMessageError(
        `a ${this.split} chunk announces ${n} images but holds ${message.images.length} image bytes and ${message.labels.length} labels`,
      );
    }
    let highest = -1;
    for (const index of message.indices) highest = Math.max(highest, index);
    this.reserve(highest + 1);
    for (let i = 0; i < n; i++) {
      const index = message.indices[i] as number;
      this.images.set(message.images.subarray(i * pixels, (i + 1) * pixels), index * pixels);
      this.labels[index] = message.labels[i] as number;
      if (this.held[index] === 0) {
        this.held[index] = 1;
        this.received += 1;
      }
    }
  }

  /** Throws `MissingDataError` naming the first index that never arrived. */
  requireAll(indices: ArrayLike<number>, purpose: string): void {
    for (let i = 0; i < indices.length; i++) {
      const index = indices[i] as number;
      if (this.held[index] !== 1) {
        throw new MissingDataError(`${purpose} needs ${this.split} image ${index}, which the coordinator never sent`);
      }
    }
  }

  private reserve(count: number): void {
    if (count <= this.held.length) return;
    const capacity = Math.max(count, this.held.length * 2);
    const pixels = this.rows * this.cols;
    const images = new Uint8Array(capacity * pixels);
    images.set(this.images);
    const labels = new Uint8Array(capacity);
    labels.set(this.labels);
    const held = new Uint8Array(capacity);
    held.set(this.held);
    this.images = images;
    this.labels = labels;
    this.held = held;
  }
}

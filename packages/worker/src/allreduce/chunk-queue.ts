/**
 * The chunks that have arrived from the predecessor and not yet been received. Chunks of the next
 * step may arrive while this rank is still computing its gradient; they wait here. A failure is
 * reported only after the chunks that arrived before it, so a predecessor that finishes and then
 * closes does not spoil the last step.
 */
import type { PeerChunkMessage } from '@ringtrain/protocol';

interface Waiter {
  resolve(chunk: PeerChunkMessage | undefined): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export class ChunkQueue {
  #items: PeerChunkMessage[] = [];
  #head = 0;
  #waiter: Waiter | undefined;
  #failure: Error | undefined;

  /** The failure that ended the queue, if any. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  push(chunk: PeerChunkMessage): void {
    if (this.#failure !== undefined) return;
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      clearTimeout(waiter.timer);
      waiter.resolve(chunk);
      return;
    }
    this.#items.push(chunk);
  }

  /** Ends the queue; the first failure wins. */
  fail(error: Error): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    const waiter = this.#waiter;
    if (waiter !== undefined && this.#head === this.#items.length) {
      this.#waiter = undefined;
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }

  /** The next chunk, or `undefined` after `timeoutMs` without one. */
  next(timeoutMs: number): Promise<PeerChunkMessage | undefined> {
    if (this.#waiter !== undefined) return Promise.reject(new Error('ChunkQueue.next called while a receive is pending'));
    if (this.#head < this.#items.length) {
      const chunk = this.#items[this.#head++] as PeerChunkMessage;
      if (this.#head === this.#items.length) {
        this.#items = [];
        this.#head = 0;
      }
      return Promise.resolve(chunk);
    }
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.#waiter = { resolve, reject, timer };
    });
  }
}

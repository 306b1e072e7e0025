/**
 * One line pool shared by every run of a step: a line takes a slot while it runs, so concurrency C applies
 * across runs and many small runs take the time of their lines, not the sum of each run's slowest tail.
 * Hand-written rather than p-limit: a free slot is taken synchronously (no promise per line on the engine's hot
 * path), and a run's workers hold no slot while they wait for their data.
 * @module
 */

export class SlotPool {
  private free: number;
  /** Waiters in arrival order, so the runs sharing the pool take turns. */
  private readonly waiting: Array<() => void> = [];
  private head = 0;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`pool size must be a whole number >= 1: ${size}`);
    this.free = size;
  }

  /** Takes a slot: `true` when one was free now, else a promise resolved once a slot is handed over. */
  acquire(): true | Promise<void> {
    if (this.free > 0) {
      this.free--;
      return true;
    }
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  /** Gives a slot back, straight to the longest waiter when there is one. */
  release(): void {
    if (this.head < this.waiting.length) {
      const next = this.waiting[this.head];
      this.waiting[this.head++] = noop;
      if (this.head > 1024 && this.head * 2 > this.waiting.length) {
        this.waiting.splice(0, this.head);
        this.head = 0;
      }
      next();
    } else this.free++;
  }

  /** Runs `work` in a slot. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    const slot = this.acquire();
    if (slot !== true) await slot;
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  get inUse(): number {
    return this.size - this.free;
  }
}

function noop(): void {}

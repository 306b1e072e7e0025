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

/**
 * A step's pieces (its runs, or a shard's parts of them) run together: their lines share one pool of `concurrency`
 * slots, and at most that many pieces are open at once (each open piece holds an executor; for Python flows a
 * worker set). A piece with fewer lines left than the pool cannot fill it alone, so up to `concurrency` are open.
 * The first failure aborts `signal` for the others and is thrown by `throwIfFailed` once every piece returned.
 */
export class PieceScheduler {
  readonly pool: SlotPool;
  /** Pieces open at once. */
  readonly openAtOnce: number;
  private readonly stop = new AbortController();
  private failure: { error: unknown } | undefined;

  constructor(concurrency: number, pieceCount: number) {
    this.pool = new SlotPool(concurrency);
    this.openAtOnce = Math.min(concurrency, Math.max(1, pieceCount));
  }

  get signal(): AbortSignal {
    return this.stop.signal;
  }

  /** Records the step's first failure and stops the other pieces. */
  fail(error: unknown): void {
    this.failure ??= { error };
    this.stop.abort();
  }

  /** Runs `work` on every piece, `openAtOnce` at a time, in the pieces' order. */
  async run<P>(pieces: readonly P[], work: (piece: P) => Promise<void>): Promise<void> {
    const opening = new SlotPool(this.openAtOnce);
    await Promise.all(pieces.map((piece) => opening.run(() => work(piece))));
  }

  throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }
}

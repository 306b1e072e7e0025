/**
 * Sliding-window rate limits (requests or tokens per window), answering how long to wait when full.
 * @module
 */

/** Amounts taken in the last `windowMs`, kept as a queue of (time, amount). */
export class SlidingWindow {
  private times: number[] = [];
  private amounts: number[] = [];
  private head = 0;
  private sum = 0;

  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  private prune(now: number): void {
    const edge = now - this.windowMs;
    while (this.head < this.times.length && this.times[this.head] <= edge) this.sum -= this.amounts[this.head++];
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.amounts = this.amounts.slice(this.head);
      this.head = 0;
    }
  }

  /** What is left in the current window. */
  remaining(now: number): number {
    this.prune(now);
    return Math.max(0, this.limit - this.sum);
  }

  /** Take `amount` if it fits; otherwise say after how many ms enough will have expired for it to fit. */
  tryTake(now: number, amount: number): { ok: true } | { ok: false; retryAfterMs: number } {
    this.prune(now);
    if (this.sum + amount <= this.limit) {
      this.times.push(now);
      this.amounts.push(amount);
      this.sum += amount;
      return { ok: true };
    }
    let toFree = this.sum + amount - this.limit;
    let i = this.head;
    while (i < this.times.length - 1 && toFree > this.amounts[i]) toFree -= this.amounts[i++];
    return { ok: false, retryAfterMs: Math.max(1, this.times[i] + this.windowMs - now) };
  }
}

/**
 * How many times each exact request was seen, so the n-th sight of a request gets its own deterministic
 * fault/jitter draw (a retried request is not doomed to fail forever). Bounded: cleared when it grows large.
 */
export class SightCounter {
  private seen = new Map<number, number>();
  next(hash: number): number {
    if (this.seen.size > 200_000) this.seen.clear();
    const n = (this.seen.get(hash) ?? 0) + 1;
    this.seen.set(hash, n);
    return n;
  }
}

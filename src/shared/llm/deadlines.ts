/**
 * Time limits without a timer or a signal per piece of work (LLM call attempts, flow lines).
 *
 * Why: profiling a batch run against an instant model showed a `setTimeout`, an AbortController and
 * `AbortSignal.any` per line or call as the largest engine cost, and any signal that reaches fetch makes
 * undici follow it (~90 µs of CPU per call under load; bench/README-engine.md). Work of one kind has one time
 * limit, so deadlines arrive in start order: one queue and one timer armed for the oldest is exact.
 * @module
 */

/** setTimeout's largest delay; a later deadline is re-armed when this fires. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** A piece of work being timed; `finish` it when the work ends. `expired` tells, afterwards, whether its deadline fired. */
export interface Deadline {
  readonly at: number;
  readonly expire: () => void;
  expired: boolean;
}

/** Deadlines of equal length, in start order; one timer, armed for the oldest. */
export class DeadlineQueue {
  private readonly pending = new Set<Deadline>();
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly timeoutMs: number) {}

  /** Starts timing: `expire` runs once, `timeoutMs` from now, unless the work is finished first. */
  start(expire: () => void): Deadline {
    const entry: Deadline = { at: performance.now() + this.timeoutMs, expire, expired: false };
    this.pending.add(entry);
    // The armed timer targets an older (earlier) deadline, so it never needs moving earlier; it only has to
    // keep the process alive again when it was released while nothing was pending.
    if (!this.timer) this.arm(entry.at);
    else if (this.pending.size === 1) this.timer.ref();
    return entry;
  }

  finish(entry: Deadline): void {
    this.pending.delete(entry);
    // Nothing left to time: let the process exit instead of waiting for a stale deadline.
    if (this.pending.size === 0) this.timer?.unref();
  }

  private arm(at: number): void {
    this.timer = setTimeout(() => this.fire(), Math.min(MAX_DELAY_MS, Math.max(0, at - performance.now())));
  }

  private fire(): void {
    this.timer = undefined;
    const now = performance.now();
    for (const entry of this.pending) {
      if (entry.at > now) {
        this.arm(entry.at);
        return;
      }
      this.pending.delete(entry);
      entry.expired = true;
      entry.expire();
    }
  }
}

/**
 * Line time limits without a timer or a signal per line.
 *
 * Why: profiling `runBatch` of a one-LLM-node flow against an instant model showed the per-line `setTimeout`,
 * AbortController and `AbortSignal.any` as the largest engine cost (a controller's signal alone is ~5 µs,
 * `any` ~20 µs, plus their garbage), and any signal that reaches fetch makes undici follow it (a controller,
 * listeners and a finalization-registry entry per request: +15–30 µs per call in isolation, ~90 µs of CPU per
 * call measured under load — more than the rest of the engine). So a timed-out line is failed at its
 * deadline and its calls are abandoned, not aborted. Every line of one executor has the same limit, so
 * deadlines arrive in start order: one queue and one timer armed for the oldest line is exact.
 * @module
 */

/** setTimeout's largest delay; a later deadline is re-armed when this fires. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** A line being timed; `finish` it when the line ends. */
export interface LineDeadline {
  readonly at: number;
  readonly expire: () => void;
}

/** Deadlines of equal length, in start order; one timer, armed for the oldest. */
export class LineDeadlines {
  private readonly pending = new Set<LineDeadline>();
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly timeoutMs: number) {}

  /** Starts timing a line: `expire` runs once, `timeoutMs` from now, unless the line is finished first. */
  start(expire: () => void): LineDeadline {
    const entry: LineDeadline = { at: performance.now() + this.timeoutMs, expire };
    this.pending.add(entry);
    // The armed timer targets an older (earlier) deadline, so it never needs moving earlier; it only has to
    // keep the process alive again when it was released while nothing was pending.
    if (!this.timer) this.arm(entry.at);
    else if (this.pending.size === 1) this.timer.ref();
    return entry;
  }

  finish(entry: LineDeadline): void {
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
      entry.expire();
    }
  }
}

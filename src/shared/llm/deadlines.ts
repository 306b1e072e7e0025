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

/** A deadline and its place in the queue. */
interface Entry extends Deadline {
  prev: Entry | undefined;
  next: Entry | undefined;
  queued: boolean;
}

/**
 * Deadlines of equal length, in start order; one timer, armed for the oldest.
 *
 * Kept in a linked list whose finished entries are unlinked both ways, not in a Set: a Set that takes and drops
 * an entry per request replaces its backing table every few requests, and each replaced table keeps its entries
 * and a link to its successor. Once a collection has moved one table to the old generation, that dead table kept
 * every later table, and through their entries every request's objects, alive through young-generation
 * collections until the next full one (the flow server promoted 1–2 MB per scavenge; bench/README-serve.md).
 */
export class DeadlineQueue {
  private head: Entry | undefined;
  private tail: Entry | undefined;
  private size = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly timeoutMs: number) {}

  /** Starts timing: `expire` runs once, `timeoutMs` from now, unless the work is finished first. */
  start(expire: () => void): Deadline {
    const entry: Entry = {
      at: performance.now() + this.timeoutMs,
      expire,
      expired: false,
      prev: this.tail,
      next: undefined,
      queued: true,
    };
    if (this.tail) this.tail.next = entry;
    else this.head = entry;
    this.tail = entry;
    this.size++;
    // The armed timer targets an older (earlier) deadline, so it never needs moving earlier; it only has to
    // keep the process alive again when it was released while nothing was pending.
    if (!this.timer) this.arm(entry.at);
    else if (this.size === 1) this.timer.ref();
    return entry;
  }

  finish(deadline: Deadline): void {
    const entry = deadline as Entry;
    if (!entry.queued) return;
    this.unlink(entry);
    // Nothing left to time: let the process exit instead of waiting for a stale deadline.
    if (this.size === 0) this.timer?.unref();
  }

  /** Work still being timed. */
  get pending(): number {
    return this.size;
  }

  private unlink(entry: Entry): void {
    if (entry.prev) entry.prev.next = entry.next;
    else this.head = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else this.tail = entry.prev;
    entry.prev = entry.next = undefined;
    entry.queued = false;
    this.size--;
  }

  private arm(at: number): void {
    this.timer = setTimeout(() => this.fire(), Math.min(MAX_DELAY_MS, Math.max(0, at - performance.now())));
  }

  private fire(): void {
    this.timer = undefined;
    const now = performance.now();
    for (let entry = this.head; entry; entry = this.head) {
      if (entry.at > now) {
        this.arm(entry.at);
        return;
      }
      this.unlink(entry);
      entry.expired = true;
      entry.expire();
    }
  }
}

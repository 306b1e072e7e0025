/**
 * A model deployment's declared quota (requests and tokens per minute), kept by spacing request starts instead
 * of finding the limit through 429s. Used when the quota is known and shared: the shards of a cloud run each
 * get their share of it, and N processes each backing off on their own 429s would keep hitting a limit none
 * of them can see whole.
 *
 * - Requests: starts are spaced at least 60000 / rpm ms apart, timed from the previous start as it happened
 *   (a timer that fired late delays the next start, no burst catches up), so in any minute at most rpm
 *   requests start, with no burst the quota's own sliding window would refuse.
 * - Tokens: a request may start while the minute's token budget is not overdrawn, and takes the tokens a
 *   response has used on average so far (its own size is only known when it is answered: the difference is
 *   settled then), so requests starting together see each other. The budget refills at tpm per minute without
 *   saving unused time as credit. Requests started before any answer take nothing and are debited whole.
 * A request waits for its start after its concurrency permit, so one waiting for a permit holds no start.
 * @module
 */
import { AdaptiveLimiter, type Permit } from './limiter.js';

export interface RateLimits {
  /** Requests per minute; undefined: not paced. */
  requestsPerMinute?: number;
  /** Tokens (prompt + completion) per minute; undefined: not paced. */
  tokensPerMinute?: number;
}

/** True when `limits` asks for pacing at all. */
export function pacingOf(limits: RateLimits | undefined): RateLimits | undefined {
  return limits && (limits.requestsPerMinute || limits.tokensPerMinute) ? limits : undefined;
}

export class RatePacer {
  private readonly intervalMs: number;
  private readonly tokensPerMs: number;
  /** When the last request started (ms since epoch). */
  private lastStart = -Infinity;
  /** Token budget at `budgetAt`: never above 0 (no credit saved), negative while overdrawn. */
  private budget = 0;
  private budgetAt = 0;
  /** Tokens a response used on average (moving), taken by each request when it starts. */
  private estimate = 0;
  /** Requests started before any answer (they took no tokens): their answers are debited whole. */
  private unmeasured = 0;

  constructor(
    readonly limits: RateLimits,
    private readonly now: () => number = Date.now,
  ) {
    this.intervalMs = limits.requestsPerMinute ? 60_000 / limits.requestsPerMinute : 0;
    this.tokensPerMs = limits.tokensPerMinute ? limits.tokensPerMinute / 60_000 : 0;
  }

  /** How many ms until a request may start (0: now). */
  wait(): number {
    const now = this.now();
    let at = now;
    if (this.intervalMs) at = Math.max(at, this.lastStart + this.intervalMs);
    if (this.tokensPerMs) {
      const budget = this.budgetNow(now);
      if (budget < 0) at = Math.max(at, now + -budget / this.tokensPerMs);
    }
    return at - now;
  }

  /** A request starts now: the next one waits a full interval from here, and it takes its estimated tokens. */
  start(): void {
    const now = this.now();
    this.lastStart = now;
    if (this.tokensPerMs) {
      this.budget = this.budgetNow(now) - this.estimate;
      this.budgetAt = now;
      if (!this.estimate) this.unmeasured++;
    }
  }

  /** A response's tokens: what they differ from the estimate its request took is settled with the budget. */
  spent(tokens: number): void {
    if (!this.tokensPerMs || !(tokens > 0)) return;
    const now = this.now();
    const taken = this.unmeasured > 0 ? 0 : this.estimate;
    if (this.unmeasured > 0) this.unmeasured--;
    this.budget = this.budgetNow(now) - (tokens - taken);
    this.budgetAt = now;
    this.estimate = this.estimate ? this.estimate * 0.8 + tokens * 0.2 : tokens;
  }

  private budgetNow(now: number): number {
    return Math.min(0, this.budget + (now - this.budgetAt) * this.tokensPerMs);
  }
}

/**
 * The adaptive limiter of an endpoint whose quota is declared: permits wait in line and are given out one
 * at a time when the pacer allows, each start timed from the one before it (a late timer delays what follows
 * instead of letting a burst catch up).
 */
export class PacedLimiter extends AdaptiveLimiter {
  readonly pacer: RatePacer;
  private readonly line: (() => void)[] = [];
  private startTimer: NodeJS.Timeout | undefined;

  constructor(maxConcurrency: number, limits: RateLimits) {
    super(maxConcurrency);
    this.pacer = new RatePacer(limits);
  }

  override acquire(): Promise<Permit> | Permit {
    const acquired = super.acquire();
    return 'then' in acquired ? acquired.then((p) => this.paced(p)) : this.paced(acquired);
  }

  /** Tokens of a response from this endpoint. */
  spent(tokens: number): void {
    this.pacer.spent(tokens);
  }

  private paced(permit: Permit): Promise<Permit> | Permit {
    if (this.line.length === 0 && this.pacer.wait() <= 0) {
      this.pacer.start();
      return permit;
    }
    return new Promise((resolve) => {
      this.line.push(() => resolve(permit));
      this.releaseLine();
    });
  }

  /** Lets the first in line start when the pacer allows; one timer at a time. */
  private releaseLine(): void {
    if (this.startTimer) return;
    while (this.line.length > 0) {
      const wait = this.pacer.wait();
      if (wait > 0) {
        this.startTimer = setTimeout(() => {
          this.startTimer = undefined;
          this.releaseLine();
        }, Math.ceil(wait));
        return;
      }
      this.pacer.start();
      this.line.shift()!();
    }
  }
}

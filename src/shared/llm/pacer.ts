/**
 * A model deployment's declared quota (requests and tokens per minute), kept by spacing request starts instead
 * of finding the limit through 429s. Used when the quota is known and shared: the shards of a cloud run each
 * get their share of it, and N processes each backing off on their own 429s would keep hitting a limit none
 * of them can see whole.
 *
 * - Requests: starts are spaced 60000 / rpm ms apart, the next slot taken from the previous slot (not from
 *   when its timer fired), so in any minute at most rpm requests start, with no burst the quota's own sliding
 *   window would refuse.
 * - Tokens: a request may start while the minute's token budget is not overdrawn; a response's tokens are
 *   debited when it arrives (a request's size is only known then) and the budget refills at tpm per minute
 *   without saving unused time as credit. The overshoot is bounded by the tokens of requests in flight.
 * The slot is taken after the concurrency permit, so a request waiting for a permit does not hold a slot.
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
  /** When the last request slot was given (ms since epoch). */
  private lastSlot = -Infinity;
  /** Token budget at `budgetAt`: never above 0 (no credit saved), negative while overdrawn. */
  private budget = 0;
  private budgetAt = 0;

  constructor(
    readonly limits: RateLimits,
    private readonly now: () => number = Date.now,
  ) {
    this.intervalMs = limits.requestsPerMinute ? 60_000 / limits.requestsPerMinute : 0;
    this.tokensPerMs = limits.tokensPerMinute ? limits.tokensPerMinute / 60_000 : 0;
  }

  /** Takes the next start slot: how many ms to wait before sending (0: now). */
  reserve(): number {
    const now = this.now();
    let at = now;
    if (this.tokensPerMs) {
      const budget = this.budgetNow(now);
      if (budget < 0) at = now + -budget / this.tokensPerMs;
    }
    if (this.intervalMs) at = Math.max(at, this.lastSlot + this.intervalMs);
    this.lastSlot = at;
    return at - now;
  }

  /** A response's tokens, debited from the minute's budget. */
  spent(tokens: number): void {
    if (!this.tokensPerMs || !(tokens > 0)) return;
    const now = this.now();
    this.budget = this.budgetNow(now) - tokens;
    this.budgetAt = now;
  }

  private budgetNow(now: number): number {
    return Math.min(0, this.budget + (now - this.budgetAt) * this.tokensPerMs);
  }
}

/** The adaptive limiter of an endpoint whose quota is declared: a permit is given out at its paced slot. */
export class PacedLimiter extends AdaptiveLimiter {
  readonly pacer: RatePacer;

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
    const wait = this.pacer.reserve();
    if (wait <= 0) return permit;
    return new Promise((resolve) => setTimeout(() => resolve(permit), Math.ceil(wait)));
  }
}

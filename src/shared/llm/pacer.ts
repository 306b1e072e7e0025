/**
 * A model deployment's declared quota (requests and tokens per minute), kept by spacing request starts instead
 * of finding the limit through 429s. Used when the quota is known and shared: the shards of a cloud run each
 * get their share of it, and N processes each backing off on their own 429s would keep hitting a limit none
 * of them can see whole.
 *
 * - Requests: starts are spaced 60000 / rpm ms apart, the next slot taken from the previous slot (not from
 *   when its timer fired), so in any minute at most rpm requests start, with no burst the quota's own sliding
 *   window would refuse.
 * - Tokens: a request may start while the minute's token budget is not overdrawn, and takes the tokens a
 *   response has used on average so far (its own size is only known when it is answered: the difference is
 *   settled then), so requests starting together see each other. The budget refills at tpm per minute without
 *   saving unused time as credit. Requests started before any answer take nothing and are debited whole.
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

  /** Takes the next start slot: how many ms to wait before sending (0: now). */
  reserve(): number {
    const now = this.now();
    let at = now;
    if (this.tokensPerMs) {
      const budget = this.budgetNow(now);
      if (budget < 0) at = now + -budget / this.tokensPerMs;
      this.budget = budget - this.estimate;
      this.budgetAt = now;
      if (!this.estimate) this.unmeasured++;
    }
    if (this.intervalMs) at = Math.max(at, this.lastSlot + this.intervalMs);
    this.lastSlot = at;
    return at - now;
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

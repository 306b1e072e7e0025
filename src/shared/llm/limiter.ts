/**
 * Per-endpoint adaptive concurrency (AIMD) for rate-limited endpoints.
 *
 * - A 429 halves the window of requests in flight, once per "epoch" (requests already in flight when it
 *   shrank do not shrink it again), and its Retry-After closes the gate for every caller of the endpoint
 *   until then: one throttle answer stops the whole herd instead of each request finding the limit alone.
 * - When the gate reopens, a single probe goes first; the others follow once it succeeds, so a limit that is
 *   still full costs one more 429, not a window's worth. (Ramping up one by one after the probe instead was
 *   measured too: fewer 429s at no latency, but 88% instead of 91% of the limit at 200 ms.)
 * - Successes grow the window by one each (back to the ceiling within about one round trip), because a
 *   per-minute quota refills each window: a slow TCP-style climb left a quarter to half of the quota unused
 *   in measurements (77% of the limit at 50 ms latency, 53% at 200 ms; bench/README-llm.md).
 * @module
 */
import { CircuitBreaker, DEFAULT_BREAKER, type BreakerOptions } from './breaker.js';
import type { EndpointUnreachableError } from './errors.js';

/** A slot held while a request is in flight; pass it back to `release`. */
export interface Permit {
  /** The limiter's epoch when the slot was granted: a 429 only shrinks the window once per epoch. */
  epoch: number;
}

export class AdaptiveLimiter {
  private window: number;
  private inFlight = 0;
  private epoch = 0;
  private blockedUntil = 0;
  /** After the gate closed: 1 while the probe is out (only it may be in flight); Infinity otherwise. */
  private ramp = Infinity;
  private readonly waiting: ((p: Permit) => void)[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly maxConcurrency: number,
    readonly minConcurrency = 1,
  ) {
    this.window = maxConcurrency;
  }

  /** Current window (requests allowed in flight). */
  get limit(): number {
    return Math.floor(this.window);
  }

  get active(): number {
    return this.inFlight;
  }

  private capacity(): number {
    return Math.min(this.limit, this.ramp) - this.inFlight;
  }

  /** Wait for a slot: a Permit at once when one is free (no promise, no tick), else a promise of one. */
  acquire(): Promise<Permit> | Permit {
    if (this.waiting.length === 0 && this.capacity() > 0 && Date.now() >= this.blockedUntil) return this.grant();
    return new Promise<Permit>((resolve) => {
      this.waiting.push(resolve);
      this.schedule();
    });
  }

  private grant(): Permit {
    this.inFlight++;
    return { epoch: this.epoch };
  }

  /**
   * Give a slot back. `outcome`: 'ok' grows the window; 'throttled' halves it (once per epoch) and, with
   * `retryAfterMs`, closes the gate until then; 'failed' (5xx, network) leaves it unchanged.
   */
  release(permit: Permit, outcome: 'ok' | 'throttled' | 'failed', retryAfterMs?: number): void {
    this.inFlight--;
    if (outcome === 'ok') {
      this.ramp = Infinity; // the probe got through: the gate is really open
      this.window = Math.min(this.maxConcurrency, this.window + 1);
    } else if (outcome === 'throttled') {
      if (permit.epoch === this.epoch) {
        this.window = Math.max(this.minConcurrency, this.window / 2);
        this.epoch++;
      }
      if (retryAfterMs !== undefined && retryAfterMs > 0) {
        this.blockedUntil = Math.max(this.blockedUntil, Date.now() + retryAfterMs);
        this.ramp = 1;
      }
    }
    this.drain();
  }

  private drain(): void {
    if (Date.now() < this.blockedUntil) {
      this.schedule();
      return;
    }
    while (this.waiting.length > 0 && this.capacity() > 0) this.waiting.shift()!(this.grant());
  }

  /** Wake up when the gate opens (one timer at a time). */
  private schedule(): void {
    if (this.timer || this.waiting.length === 0) return;
    const wait = this.blockedUntil - Date.now();
    if (wait <= 0) {
      queueMicrotask(() => this.drain());
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.drain();
    }, wait);
  }
}

/**
 * One limiter per endpoint key (request URL: base + deployment/model) and one circuit breaker per origin
 * (scheme, host and port: reachability is the host's, whatever the model), shared by every client given the
 * same registry.
 */
export class LimiterRegistry {
  private readonly limiters = new Map<string, AdaptiveLimiter>();
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly breakerByUrl = new Map<string, CircuitBreaker>();
  constructor(
    readonly maxConcurrency = 64,
    private readonly breakerOptions: BreakerOptions = DEFAULT_BREAKER,
    /** The limiter of a new endpoint (pacer.ts's PacedLimiter when the quota is declared). */
    private readonly create: (maxConcurrency: number) => AdaptiveLimiter = (n) => new AdaptiveLimiter(n),
  ) {}

  /** The circuit breaker of a request URL's origin. */
  breaker(url: string): CircuitBreaker {
    let b = this.breakerByUrl.get(url);
    if (!b) {
      const origin = new URL(url).origin;
      b = this.breakers.get(origin);
      if (!b) {
        b = new CircuitBreaker(origin, this.breakerOptions);
        this.breakers.set(origin, b);
      }
      this.breakerByUrl.set(url, b);
    }
    return b;
  }

  /** Endpoints given up on: circuits open now, or never reached and every call failed to connect. */
  unreachable(): EndpointUnreachableError[] {
    return [...this.breakers.values()].flatMap((b) => {
      const e = b.stepError;
      return e ? [e] : [];
    });
  }

  get(key: string): AdaptiveLimiter {
    let l = this.limiters.get(key);
    if (!l) {
      l = this.create(this.maxConcurrency);
      this.limiters.set(key, l);
    }
    return l;
  }
}

/**
 * A per-endpoint circuit breaker for endpoints that cannot be reached at all. After `threshold` connection
 * failures in a row (refused, unreachable, unknown host — never 429 or 5xx, which are answers), the circuit
 * opens: every further call to that endpoint fails at once with one clear error instead of each line of a
 * large run spending its own retries on a dead server. After `coolDownMs` one call may probe again (half-open);
 * its success closes the circuit, its failure reopens it.
 * @module
 */
import { EndpointUnreachableError } from './errors.js';

export interface BreakerOptions {
  /** Consecutive connection failures that open the circuit. Default 5. */
  threshold: number;
  /** How long an open circuit fails calls before letting one probe through (ms). Default 30000. */
  coolDownMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = { threshold: 5, coolDownMs: 30_000 };

export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private probing = false;
  private everReached = false;
  private lastCode: string | undefined;
  /** The error calls get while the circuit is open; undefined while closed. */
  private error: EndpointUnreachableError | undefined;
  /** The URL of the http flow target at this origin (set by its client), named in the errors instead. */
  httpTarget: string | undefined;

  constructor(
    readonly origin: string,
    private readonly options: BreakerOptions = DEFAULT_BREAKER,
  ) {}

  /** The error of an open circuit (the call must not be sent), or undefined (send it). */
  refuse(now = Date.now()): EndpointUnreachableError | undefined {
    if (!this.error) return undefined;
    if (!this.probing && now - this.openedAt >= this.options.coolDownMs) {
      this.probing = true; // half-open: this call is the probe
      return undefined;
    }
    return this.error;
  }

  /** The endpoint answered (any HTTP status): it is reachable. */
  reached(): void {
    this.everReached = true;
    this.failures = 0;
    this.probing = false;
    this.error = undefined;
  }

  /** A connection failure (`code`, e.g. ECONNREFUSED). Returns the error when this failure opened the circuit. */
  unreachable(code: string): EndpointUnreachableError | undefined {
    this.failures++;
    this.lastCode = code;
    const reopen = this.probing;
    this.probing = false;
    if (this.failures < this.options.threshold && !reopen) return undefined;
    const opening = !this.error;
    this.error ??= new EndpointUnreachableError(this.origin, code, this.failures, true, this.httpTarget);
    this.openedAt = Date.now();
    return opening ? this.error : undefined;
  }

  /** The open circuit's error, if any. */
  get openError(): EndpointUnreachableError | undefined {
    return this.error;
  }

  /**
   * Why a step that used this endpoint must fail with exit 3: its circuit is open, or it was never reached
   * and every call failed to connect (a run too small to open the circuit).
   */
  get stepError(): EndpointUnreachableError | undefined {
    if (this.error) return this.error;
    return !this.everReached && this.lastCode
      ? new EndpointUnreachableError(this.origin, this.lastCode, this.failures, false, this.httpTarget)
      : undefined;
  }
}

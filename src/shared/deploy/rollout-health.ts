/**
 * The new version's health during a rollout stage, from requests it answered: the error rate and p95 latency of
 * the smoke requests sent to it alone and of probe requests sent through the endpoint's split, each attributed
 * to the version that answered by a response header the target sets (Azure ML: `azureml-model-deployment`).
 * Target-independent: a Gateway API or Container Apps target names its own header. An error is a 5xx or no
 * answer at all (a 4xx is the request's fault, as Flagger's request-success-rate counts it).
 * @module
 */
import type { CheckResult } from './rollout.js';
import { percentile } from './smoke-run.js';

export interface RequestSample {
  /** The version that answered (response header, else the header the request named); absent: unknown. */
  version?: string;
  /** 0: no answer (refused, reset, timed out). */
  status: number;
  /** Until the response headers arrived. */
  ms: number;
}

export interface HealthLimits {
  /** Largest share of the new version's requests that may fail (0–1). */
  maxErrorRate?: number;
  /** Largest p95 latency of the new version's requests, ms. */
  maxP95Ms?: number;
}

/** Default: one failed request in a hundred (Flagger's request-success-rate default of 99 %). */
export const DEFAULT_MAX_ERROR_RATE = 0.01;

/** Probe requests per stage when none are configured. */
export const DEFAULT_PROBE_REQUESTS = 20;

export interface Health {
  version: string;
  requests: number;
  errors: number;
  errorRate: number;
  p95Ms: number;
  /** Requests that got no answer and named no version: they count against the check. */
  unattributedErrors: number;
}

const isError = (s: RequestSample) => s.status === 0 || s.status >= 500;

/** Records every request made through `fetch`: who answered, status, time to the response headers. */
export class RequestRecorder {
  private samples: RequestSample[] = [];

  constructor(readonly header: string) {}

  readonly fetch: typeof fetch = async (input, init) => {
    const named = new Headers(init?.headers).get(this.header) ?? undefined;
    const started = performance.now();
    try {
      const r = await fetch(input, init);
      this.samples.push({
        version: r.headers.get(this.header) ?? named,
        status: r.status,
        ms: performance.now() - started,
      });
      return r;
    } catch (e) {
      this.samples.push({ version: named, status: 0, ms: performance.now() - started });
      throw e;
    }
  };

  /** The samples so far, and a fresh start for the next stage. */
  take(): RequestSample[] {
    const taken = this.samples;
    this.samples = [];
    return taken;
  }
}

export function healthOf(samples: readonly RequestSample[], version: string): Health {
  const mine = samples.filter((s) => s.version === version);
  const errors = mine.filter(isError).length;
  return {
    version,
    requests: mine.length,
    errors,
    errorRate: mine.length ? errors / mine.length : 0,
    p95Ms: mine.length
      ? percentile(
          mine.map((s) => s.ms),
          0.95,
        )
      : 0,
    unattributedErrors: samples.filter((s) => s.version === undefined && isError(s)).length,
  };
}

/** Passes when the figures are within the limits; no request answered by the version is a failure (no data). */
export function judgeHealth(h: Health, limits: HealthLimits): CheckResult {
  const maxRate = limits.maxErrorRate ?? DEFAULT_MAX_ERROR_RATE;
  const problems: string[] = [];
  if (h.requests === 0) problems.push('no request was answered by it');
  if (h.errorRate > maxRate) problems.push(`error rate above ${formatRate(maxRate)}`);
  if (limits.maxP95Ms !== undefined && h.p95Ms > limits.maxP95Ms) problems.push(`p95 above ${limits.maxP95Ms} ms`);
  if (h.unattributedErrors > 0) problems.push(`${h.unattributedErrors} request(s) through the endpoint got no answer`);
  const figures = `${h.version}: ${h.requests} requests, ${h.errors} errors (${formatRate(h.errorRate)}), p95 ${Math.round(h.p95Ms)} ms`;
  return { passed: problems.length === 0, detail: problems.length ? `${figures}: ${problems.join(', ')}` : figures };
}

function formatRate(rate: number): string {
  return `${(rate * 100).toFixed(rate * 100 < 10 && rate > 0 ? 1 : 0)} %`;
}

/**
 * Sends `count` requests through the endpoint (no version named: the split decides), cycling through `bodies`,
 * a few at a time. Answers are not judged here: the recorder behind `doFetch` keeps who answered and how.
 */
export async function probeEndpoint(o: {
  url: string;
  headers: Record<string, string>;
  bodies: readonly string[];
  count: number;
  doFetch: typeof fetch;
  timeoutMs: number;
  concurrency?: number;
}): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < o.count) {
      const body = o.bodies[next++ % o.bodies.length];
      await o
        .doFetch(o.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...o.headers },
          body,
          signal: AbortSignal.timeout(o.timeoutMs),
        })
        .then((r) => r.arrayBuffer())
        .catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 4, o.count) }, worker));
}

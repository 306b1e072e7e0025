/**
 * The server's counters in the Prometheus text exposition format (version 0.0.4): requests by route and status,
 * a latency histogram, requests in flight. Kept by hand: a few counters do not need a metrics library.
 * @module
 */
import type { CacheCounters } from './cache.js';
import type { DegradeCounters } from './degrade.js';

/** Upper bounds of the latency histogram buckets, in seconds. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export class ServerMetrics {
  private readonly requests = new Map<string, number>();
  private readonly bucketCounts = new Array<number>(BUCKETS.length).fill(0);
  private latencySum = 0;
  private latencyCount = 0;
  private readonly guardEvents = new Map<string, number>();
  inFlight = 0;
  /** Response cache counters, when the cache is on (serve/cache.ts). */
  cache?: CacheCounters;
  /** Fallback answers and shed requests (serve/degrade.ts). */
  degrade?: DegradeCounters;

  /** A guard blocked a request or an answer. */
  guardEvent(stage: string, check: string): void {
    const key = `stage="${stage}",check="${check}"`;
    this.guardEvents.set(key, (this.guardEvents.get(key) ?? 0) + 1);
  }

  /** One finished request. `route` is the matched route (never the raw path: unbounded label values). */
  record(route: string, method: string, status: number, seconds: number): void {
    const key = `route="${route}",method="${method}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    if (route === '/score') {
      for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]) this.bucketCounts[i]++;
      this.latencySum += seconds;
      this.latencyCount++;
    }
  }

  render(): string {
    const lines = [
      '# HELP llmops_http_requests_total HTTP requests answered, by route, method and status.',
      '# TYPE llmops_http_requests_total counter',
      ...[...this.requests].map(([labels, n]) => `llmops_http_requests_total{${labels}} ${n}`),
      '# HELP llmops_score_duration_seconds Time to answer a /score request (last byte for streams).',
      '# TYPE llmops_score_duration_seconds histogram',
      ...BUCKETS.map((b, i) => `llmops_score_duration_seconds_bucket{le="${b}"} ${this.bucketCounts[i]}`),
      `llmops_score_duration_seconds_bucket{le="+Inf"} ${this.latencyCount}`,
      `llmops_score_duration_seconds_sum ${this.latencySum}`,
      `llmops_score_duration_seconds_count ${this.latencyCount}`,
      '# HELP llmops_http_requests_in_flight Requests being answered now.',
      '# TYPE llmops_http_requests_in_flight gauge',
      `llmops_http_requests_in_flight ${this.inFlight}`,
      '# HELP llmops_guard_events_total Requests and answers a safety guard blocked, by stage and check.',
      '# TYPE llmops_guard_events_total counter',
      ...[...this.guardEvents].map(([labels, n]) => `llmops_guard_events_total{${labels}} ${n}`),
    ];
    if (this.cache) {
      const c = this.cache;
      lines.push(
        '# HELP llmops_response_cache_requests_total /score requests by response cache outcome.',
        '# TYPE llmops_response_cache_requests_total counter',
        `llmops_response_cache_requests_total{result="hit"} ${c.hits}`,
        `llmops_response_cache_requests_total{result="coalesced"} ${c.coalesced}`,
        `llmops_response_cache_requests_total{result="miss"} ${c.misses}`,
        `llmops_response_cache_requests_total{result="bypass"} ${c.bypassed}`,
        '# HELP llmops_response_cache_stores_total Answers written to the response cache.',
        '# TYPE llmops_response_cache_stores_total counter',
        `llmops_response_cache_stores_total ${c.stores}`,
        '# HELP llmops_response_cache_errors_total Response cache store failures (served as misses).',
        '# TYPE llmops_response_cache_errors_total counter',
        `llmops_response_cache_errors_total ${c.storeErrors}`,
      );
    }
    if (this.degrade) {
      const d = this.degrade;
      lines.push(
        '# HELP llmops_degraded_responses_total /score requests answered with the configured fallback, by reason.',
        '# TYPE llmops_degraded_responses_total counter',
        `llmops_degraded_responses_total{reason="models"} ${d.fallback.models}`,
        `llmops_degraded_responses_total{reason="timeout"} ${d.fallback.timeout}`,
        '# HELP llmops_shed_requests_total /score requests refused with 503 because too many were in flight.',
        '# TYPE llmops_shed_requests_total counter',
        `llmops_shed_requests_total ${d.shed}`,
      );
    }
    return lines.join('\n') + '\n';
  }
}

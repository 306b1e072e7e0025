/**
 * The figures of a monitoring window, overall and per deployment: traffic, error rate with its Wilson interval,
 * latency percentiles, tokens and cost, the most frequent failure kinds, and feedback (joined to the request it
 * is about, so a rating counts for the version that answered, whichever replica received it).
 * @module
 */
import { quantileSorted } from '../eval/stats/describe.js';
import { wilsonInterval } from '../eval/stats/intervals.js';
import { isError, type FeedbackRecord, type MonitorData, type RequestRecord } from './records.js';

export interface FeedbackRule {
  /** A rating at or above this is positive. Default 1 (thumbs 1/0 or 1/−1; use 4 for a 1–5 scale). */
  positiveRating: number;
  /** Labels that are positive (case-insensitive); others are negative. */
  positiveLabels: readonly string[];
}

export const DEFAULT_FEEDBACK_RULE: FeedbackRule = {
  positiveRating: 1,
  positiveLabels: ['positive', 'helpful', 'good', 'correct', 'thumbs_up', 'up', 'like'],
};

/** Whether a piece of feedback is positive: by its rating when it has one, else by its label. */
export function isPositive(f: FeedbackRecord, rule: FeedbackRule): boolean {
  if (f.rating !== undefined) return f.rating >= rule.positiveRating;
  return rule.positiveLabels.some((l) => l.toLowerCase() === f.label?.toLowerCase());
}

export interface Interval {
  value: number;
  lower: number;
  upper: number;
}

export interface GroupSummary {
  /** Deployment name; `(all)` for the whole window, `(unknown)` for records that do not say. */
  name: string;
  requests: number;
  errors: number;
  errorRate: Interval | null;
  latencyMs: { measured: number; p50: number; p90: number; p95: number; p99: number; mean: number } | null;
  tokens: { total: number; prompt: number; completion: number; perRequest: number } | null;
  costUsd: number | null;
  failureKinds: { kind: string; count: number }[];
  feedback: {
    count: number;
    /** Feedback whose request is not in the data (not sampled, or outside the window). */
    unmatched: number;
    ratings: number;
    meanRating: number | null;
    positive: number;
    positiveShare: Interval | null;
    labels: { label: string; count: number }[];
  };
  /** Requests per minute over the window. */
  ratePerMinute: number;
}

export interface MonitorSummary {
  window: { since: string | null; until: string | null; first: string | null; last: string | null };
  files: string[];
  overall: GroupSummary;
  deployments: GroupSummary[];
}

export const UNKNOWN_DEPLOYMENT = '(unknown)';

function interval(k: number, n: number, level: number): Interval | null {
  if (n === 0) return null;
  const w = wilsonInterval(k, n, { level });
  return { value: w.mean, lower: w.lower, upper: w.upper };
}

function summarizeGroup(
  name: string,
  requests: readonly RequestRecord[],
  feedback: readonly FeedbackRecord[],
  unmatched: number,
  spanMs: number,
  rule: FeedbackRule,
  level: number,
): GroupSummary {
  const errors = requests.filter(isError);
  const latencies = requests
    .map((r) => r.latencyMs)
    .filter((v): v is number => v !== undefined)
    .sort((a, b) => a - b);
  const withTokens = requests.filter((r) => r.tokens);
  const kinds = new Map<string, number>();
  for (const r of errors)
    kinds.set(r.errorKind ?? `HTTP ${r.status}`, (kinds.get(r.errorKind ?? `HTTP ${r.status}`) ?? 0) + 1);
  const ratings = feedback.filter((f) => f.rating !== undefined).map((f) => f.rating!);
  const labels = new Map<string, number>();
  for (const f of feedback) if (f.label !== undefined) labels.set(f.label, (labels.get(f.label) ?? 0) + 1);
  const positive = feedback.filter((f) => isPositive(f, rule)).length;
  const priced = requests.filter((r) => r.costUsd !== undefined);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  return {
    name,
    requests: requests.length,
    errors: errors.length,
    errorRate: interval(errors.length, requests.length, level),
    latencyMs: latencies.length
      ? {
          measured: latencies.length,
          p50: quantileSorted(latencies, 0.5),
          p90: quantileSorted(latencies, 0.9),
          p95: quantileSorted(latencies, 0.95),
          p99: quantileSorted(latencies, 0.99),
          mean: sum(latencies) / latencies.length,
        }
      : null,
    tokens: withTokens.length
      ? {
          total: sum(withTokens.map((r) => r.tokens!.total)),
          prompt: sum(withTokens.map((r) => r.tokens!.prompt)),
          completion: sum(withTokens.map((r) => r.tokens!.completion)),
          perRequest: sum(withTokens.map((r) => r.tokens!.total)) / withTokens.length,
        }
      : null,
    costUsd: priced.length ? sum(priced.map((r) => r.costUsd!)) : null,
    failureKinds: [...kinds]
      .map(([kind, count]) => ({ kind, count }))
      .sort((a, b) => b.count - a.count || (a.kind < b.kind ? -1 : 1))
      .slice(0, 10),
    feedback: {
      count: feedback.length,
      unmatched,
      ratings: ratings.length,
      meanRating: ratings.length ? sum(ratings) / ratings.length : null,
      positive,
      positiveShare: interval(positive, feedback.length, level),
      labels: [...labels].map(([label, count]) => ({ label, count })).sort((a, b) => b.count - a.count),
    },
    ratePerMinute: spanMs > 0 ? requests.length / (spanMs / 60_000) : 0,
  };
}

/** Feedback grouped by the deployment that answered its request; feedback on unknown requests apart. */
export function feedbackByDeployment(data: MonitorData): {
  byDeployment: Map<string, FeedbackRecord[]>;
  unmatched: FeedbackRecord[];
} {
  const answeredBy = new Map<string, string>();
  for (const r of data.requests) answeredBy.set(r.requestId, r.deployment ?? UNKNOWN_DEPLOYMENT);
  const byDeployment = new Map<string, FeedbackRecord[]>();
  const unmatched: FeedbackRecord[] = [];
  for (const f of data.feedback) {
    const d = answeredBy.get(f.requestId);
    if (d === undefined) unmatched.push(f);
    else {
      const list = byDeployment.get(d);
      if (list) list.push(f);
      else byDeployment.set(d, [f]);
    }
  }
  return { byDeployment, unmatched };
}

export interface SummaryOptions {
  since?: number;
  until?: number;
  level?: number;
  feedback?: FeedbackRule;
}

export function summarizeMonitor(data: MonitorData, o: SummaryOptions = {}): MonitorSummary {
  const level = o.level ?? 0.95;
  const rule = o.feedback ?? DEFAULT_FEEDBACK_RULE;
  const first = data.requests[0]?.time;
  const last = data.requests.at(-1)?.time;
  const spanMs = (o.until ?? last ?? 0) - (o.since ?? first ?? 0);
  const { byDeployment, unmatched } = feedbackByDeployment(data);
  const names = [...new Set(data.requests.map((r) => r.deployment ?? UNKNOWN_DEPLOYMENT))].sort();
  const iso = (t: number | undefined) => (t === undefined ? null : new Date(t).toISOString());
  return {
    window: { since: iso(o.since), until: iso(o.until), first: iso(first), last: iso(last) },
    files: data.files,
    overall: summarizeGroup('(all)', data.requests, data.feedback, unmatched.length, spanMs, rule, level),
    deployments:
      names.length > 1 || (names.length === 1 && names[0] !== UNKNOWN_DEPLOYMENT)
        ? names.map((n) =>
            summarizeGroup(
              n,
              data.requests.filter((r) => (r.deployment ?? UNKNOWN_DEPLOYMENT) === n),
              byDeployment.get(n) ?? [],
              0,
              spanMs,
              rule,
              level,
            ),
          )
        : [],
  };
}

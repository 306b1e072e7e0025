/**
 * Production A/B: the requests a candidate version answered against those the reference answered (unpaired: no
 * request was served by both), on latency (Mann–Whitney U, Hodges–Lehmann shift with its Moses interval), error
 * rate and positive feedback (two proportions, Newcombe interval), mean rating and reference-free judge scores
 * logged with the requests (Welch t). Each figure is turned so that a positive change is an improvement, and
 * judged against a margin: `better` when the whole interval is above 0, `not-worse` when it is above −margin,
 * `worse` when it is wholly below 0 and reaches past −margin, else `inconclusive`. The intervals are at
 * 1 − α/k (Bonferroni over the k figures compared), so the overall verdict keeps its error rate α.
 * @module
 */
import { ConfigError } from '../errors.js';
import { mannWhitneyU, twoProportionTest, welchTTest, type UnpairedResult } from '../eval/stats/unpaired.js';
import { quantileSorted, mean } from '../eval/stats/describe.js';
import { isError, type MonitorData, type RequestRecord } from './records.js';
import {
  DEFAULT_FEEDBACK_RULE,
  feedbackByDeployment,
  isPositive,
  UNKNOWN_DEPLOYMENT,
  type FeedbackRule,
} from './summary.js';

export type CompareVerdict = 'better' | 'not-worse' | 'worse' | 'inconclusive';

export type MetricName = 'latency' | 'error_rate' | 'feedback' | 'rating' | `judge:${string}`;

/** Margins per figure: for rates, a difference of shares (0.02 = 2 points); for latency and means, relative. */
export interface Margins {
  default: number;
  byMetric: Partial<Record<string, number>>;
}

export const DEFAULT_MARGIN = 0.05;

export interface MetricComparison {
  metric: MetricName;
  /** What the numbers are: "ms (Hodges–Lehmann shift)", "share", ... */
  unit: string;
  test: UnpairedResult['test'];
  candidate: { n: number; value: number };
  reference: { n: number; value: number };
  /** Candidate − reference, in the metric's own direction (ms, share, rating). */
  difference: number;
  lower: number;
  upper: number;
  pValue: number;
  higherIsBetter: boolean;
  /** The margin in the metric's units (relative margins already multiplied out). */
  margin: number;
  verdict: CompareVerdict;
  /** Why, in one line. */
  reason: string;
}

export interface CompareResult {
  candidate: string;
  reference: string;
  verdict: CompareVerdict;
  /** The interval level used for each figure (after the Bonferroni split). */
  level: number;
  alpha: number;
  minRequests: number;
  metrics: MetricComparison[];
  /** Figures left out (no data on one side), with why. */
  skipped: { metric: string; reason: string }[];
  summary: string;
}

export interface CompareOptions {
  candidate: string;
  reference: string;
  margins?: Margins;
  /** Family-wise error rate; default 0.05. */
  alpha?: number;
  /** Fewer requests than this on either side: inconclusive. Default 30. */
  minRequests?: number;
  feedback?: FeedbackRule;
  /** Output columns holding reference-free judge scores (numbers or booleans) logged with each request. */
  judges?: readonly string[];
}

export const DEFAULT_MIN_REQUESTS = 30;

/** The figures a margin may be given for by name (judge columns besides). */
const MARGIN_FIGURES = ['latency', 'error_rate', 'feedback', 'rating'];

/**
 * `0.05` or `latency=0.1,error_rate=0.01,0.05` (a bare number is the default for the others). A name that is
 * no figure (a typo) is an error: its margin would silently be the default.
 */
export function parseMargins(text: string, option = '--margin', judges: readonly string[] = []): Margins {
  const out: Margins = { default: DEFAULT_MARGIN, byMetric: {} };
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [name, value] = part.includes('=') ? part.split('=', 2).map((s) => s.trim()) : [undefined, part];
    const n = Number(value);
    if (!(Number.isFinite(n) && n >= 0))
      throw ConfigError.at(
        { file: option },
        `found ${JSON.stringify(part)}; expected a margin ≥ 0 (0.05) or metric=margin pairs (latency=0.1,error_rate=0.01)`,
      );
    const known = [...MARGIN_FIGURES, ...judges];
    if (name !== undefined && !known.includes(name))
      throw ConfigError.at(
        { file: option },
        `found ${JSON.stringify(name)}; expected a margin for one of: ${known.join(', ')} (a --judge column besides)`,
      );
    if (name === undefined) out.default = n;
    else out.byMetric[name] = n;
  }
  return out;
}

function verdictOf(lower: number, upper: number, margin: number, higherIsBetter: boolean): CompareVerdict {
  // Turned so that positive is an improvement.
  const [lo, hi] = higherIsBetter ? [lower, upper] : [-upper, -lower];
  if (lo > 0) return 'better';
  if (lo > -margin) return 'not-worse';
  if (hi < 0) return 'worse';
  return 'inconclusive';
}

const numericOutput = (r: RequestRecord, column: string): number | undefined => {
  const v = r.outputs?.[column];
  return typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'boolean' ? Number(v) : undefined;
};

/** Compares the candidate's requests with the reference's. ConfigError when a named deployment has no request. */
export function compareDeployments(data: MonitorData, o: CompareOptions): CompareResult {
  const alpha = o.alpha ?? 0.05;
  const minRequests = o.minRequests ?? DEFAULT_MIN_REQUESTS;
  const margins = o.margins ?? { default: DEFAULT_MARGIN, byMetric: {} };
  const rule = o.feedback ?? DEFAULT_FEEDBACK_RULE;
  const of = (name: string) => data.requests.filter((r) => (r.deployment ?? UNKNOWN_DEPLOYMENT) === name);
  const cand = of(o.candidate);
  const ref = of(o.reference);
  const { byDeployment } = feedbackByDeployment(data);
  const candFeedback = byDeployment.get(o.candidate) ?? [];
  const refFeedback = byDeployment.get(o.reference) ?? [];
  const marginOf = (m: string) => margins.byMetric[m] ?? margins.default;

  // Which figures have data on both sides decides k, the Bonferroni divisor.
  type Planned = { metric: MetricName; run: (level: number) => MetricComparison };
  const planned: Planned[] = [];
  const skipped: { metric: string; reason: string }[] = [];
  const latency = (rs: RequestRecord[]) =>
    rs.filter((r) => !isError(r) && r.latencyMs !== undefined).map((r) => r.latencyMs!);
  const cl = latency(cand);
  const rl = latency(ref);
  if (cl.length >= 2 && rl.length >= 2)
    planned.push({
      metric: 'latency',
      run: (level) => {
        const t = mannWhitneyU(cl, rl, { level });
        const refMedian = quantileSorted(
          [...rl].sort((a, b) => a - b),
          0.5,
        );
        const margin = marginOf('latency') * refMedian;
        return {
          metric: 'latency',
          unit: 'ms (Hodges–Lehmann shift of answered requests)',
          test: t.test,
          candidate: {
            n: cl.length,
            value: quantileSorted(
              [...cl].sort((a, b) => a - b),
              0.5,
            ),
          },
          reference: { n: rl.length, value: refMedian },
          difference: t.estimate,
          lower: t.lower,
          upper: t.upper,
          pValue: t.pValue,
          higherIsBetter: false,
          margin,
          verdict: verdictOf(t.lower, t.upper, margin, false),
          reason: '',
        };
      },
    });
  else skipped.push({ metric: 'latency', reason: 'fewer than 2 answered requests with a latency on a side' });
  if (cand.length > 0 && ref.length > 0)
    planned.push({
      metric: 'error_rate',
      run: (level) =>
        proportion(
          'error_rate',
          'share of requests failed',
          cand.filter(isError).length,
          cand.length,
          ref.filter(isError).length,
          ref.length,
          false,
          marginOf('error_rate'),
          level,
        ),
    });
  if (candFeedback.length > 0 && refFeedback.length > 0) {
    const cp = candFeedback.filter((f) => isPositive(f, rule)).length;
    const rp = refFeedback.filter((f) => isPositive(f, rule)).length;
    planned.push({
      metric: 'feedback',
      run: (level) =>
        proportion(
          'feedback',
          'share of feedback positive',
          cp,
          candFeedback.length,
          rp,
          refFeedback.length,
          true,
          marginOf('feedback'),
          level,
        ),
    });
    const cr = candFeedback.filter((f) => f.rating !== undefined).map((f) => f.rating!);
    const rr = refFeedback.filter((f) => f.rating !== undefined).map((f) => f.rating!);
    if (cr.length >= 2 && rr.length >= 2)
      planned.push({
        metric: 'rating',
        run: (level) => meanComparison('rating', 'mean rating', cr, rr, marginOf('rating'), level),
      });
  } else skipped.push({ metric: 'feedback', reason: 'no feedback on one side' });
  for (const judge of o.judges ?? []) {
    const cj = cand.map((r) => numericOutput(r, judge)).filter((v): v is number => v !== undefined);
    const rj = ref.map((r) => numericOutput(r, judge)).filter((v): v is number => v !== undefined);
    if (cj.length >= 2 && rj.length >= 2)
      planned.push({
        metric: `judge:${judge}`,
        run: (level) => meanComparison(`judge:${judge}`, `mean of outputs.${judge}`, cj, rj, marginOf(judge), level),
      });
    else skipped.push({ metric: `judge:${judge}`, reason: `fewer than 2 numeric outputs.${judge} on a side` });
  }

  const level = 1 - alpha / Math.max(1, planned.length);
  const tooFew = cand.length < minRequests || ref.length < minRequests;
  const metrics = planned.map((p) => {
    const m = p.run(level);
    if (tooFew) m.verdict = 'inconclusive';
    m.reason = reasonOf(m, tooFew ? minRequests : undefined);
    return m;
  });
  const verdicts = metrics.map((m) => m.verdict);
  const verdict: CompareVerdict =
    metrics.length === 0 || tooFew
      ? 'inconclusive'
      : verdicts.includes('worse')
        ? 'worse'
        : verdicts.includes('inconclusive')
          ? 'inconclusive'
          : verdicts.includes('better')
            ? 'better'
            : 'not-worse';
  const summary = tooFew
    ? `${o.candidate} vs ${o.reference}: inconclusive — ${cand.length} and ${ref.length} requests, fewer than the ${minRequests} needed on each side`
    : `${o.candidate} vs ${o.reference}: ${verdict} (${metrics.map((m) => `${m.metric} ${m.verdict}`).join(', ') || 'nothing to compare'})`;
  return {
    candidate: o.candidate,
    reference: o.reference,
    verdict,
    level,
    alpha,
    minRequests,
    metrics,
    skipped,
    summary,
  };
}

function proportion(
  metric: MetricName,
  unit: string,
  xc: number,
  nc: number,
  xr: number,
  nr: number,
  higherIsBetter: boolean,
  margin: number,
  level: number,
): MetricComparison {
  const t = twoProportionTest(xc, nc, xr, nr, { level });
  return {
    metric,
    unit,
    test: t.test,
    candidate: { n: nc, value: xc / nc },
    reference: { n: nr, value: xr / nr },
    difference: t.estimate,
    lower: t.lower,
    upper: t.upper,
    pValue: t.pValue,
    higherIsBetter,
    margin,
    verdict: verdictOf(t.lower, t.upper, margin, higherIsBetter),
    reason: '',
  };
}

function meanComparison(
  metric: MetricName,
  unit: string,
  c: number[],
  r: number[],
  relativeMargin: number,
  level: number,
): MetricComparison {
  const t = welchTTest(c, r, { level });
  const margin = relativeMargin * Math.abs(mean(r));
  return {
    metric,
    unit,
    test: t.test,
    candidate: { n: c.length, value: mean(c) },
    reference: { n: r.length, value: mean(r) },
    difference: t.estimate,
    lower: t.lower,
    upper: t.upper,
    pValue: t.pValue,
    higherIsBetter: true,
    margin,
    verdict: verdictOf(t.lower, t.upper, margin, true),
    reason: '',
  };
}

function reasonOf(m: MetricComparison, tooFewBelow: number | undefined): string {
  const dir = m.higherIsBetter ? 'higher is better' : 'lower is better';
  const ci = `[${round(m.lower)}, ${round(m.upper)}]`;
  if (tooFewBelow !== undefined) return `fewer than ${tooFewBelow} requests on a side`;
  switch (m.verdict) {
    case 'better':
      return `the interval ${ci} is wholly on the better side of 0 (${dir})`;
    case 'not-worse':
      return `the interval ${ci} stays within the margin ${round(m.margin)} on the worse side (${dir})`;
    case 'worse':
      return `the interval ${ci} is wholly on the worse side of 0 and reaches past the margin ${round(m.margin)} (${dir})`;
    default:
      return `the interval ${ci} spans both 0 and the margin ${round(m.margin)} on the worse side: more traffic is needed (${dir})`;
  }
}

const round = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3));

/** Whether a verdict meets a promotion requirement. */
export function meets(verdict: CompareVerdict, requirement: 'better' | 'not-worse'): boolean {
  return requirement === 'better' ? verdict === 'better' : verdict === 'better' || verdict === 'not-worse';
}

/**
 * How many lines a dataset needs to detect a given difference: from a baseline pass rate, a per-line standard
 * deviation, or an existing run's results (the metric's interval, or a paired comparison's, which already holds
 * its clustering). The answer is whole clusters when lines come in clusters (conversations, `repeat: K`).
 * @module
 */
import { ConfigError } from '../errors.js';
import type { ResultsSummary } from '../results/model.js';
import {
  bernoulliSd,
  minimumDetectableEffect,
  pairedBernoulliSd,
  sampleSizeFor,
  standardErrorFromInterval,
  type SampleSize,
} from './stats/power.js';

export interface PlanInput {
  difference: number;
  alpha: number;
  power: number;
  /** Lines per cluster and their intra-cluster correlation (ignored when the sd comes from clustered results). */
  clusterSize?: number;
  icc?: number;
}

export interface SampleSourceRate {
  kind: 'rate';
  rate: number;
  /** A paired comparison of two variants on the same lines: correlation of their pass/fail scores. */
  paired?: { correlation: number };
}
export interface SampleSourceSd {
  kind: 'sd';
  sd: number;
}
export interface SampleSourceResults {
  kind: 'results';
  file: string;
  results: ResultsSummary;
  metric: string;
  evaluator?: string;
  variant?: string;
  /** Plan a paired comparison against the default variant or the baseline, from that comparison's spread. */
  against?: 'default' | 'baseline';
}
export type SampleSource = SampleSourceRate | SampleSourceSd | SampleSourceResults;

export interface SamplePlan extends SampleSize {
  difference: number;
  alpha: number;
  power: number;
  /** Per-line sd the plan used (for clustered results: the sd an independent line would need to have). */
  sd: number;
  /** Where the sd came from, in words. */
  basis: string;
  /** From results: the lines they had and the difference those lines can detect. */
  current?: { lines: number; clusters?: number; mde: number };
}

export function planSample(input: PlanInput, source: SampleSource): SamplePlan {
  const { sd, basis, current, clustered } = spread(source, input);
  // Results already clustered: their sd includes the design effect, so only whole clusters are added on top.
  const size = sampleSizeFor({
    difference: input.difference,
    sd,
    alpha: input.alpha,
    power: input.power,
    clusterSize: clustered ? 1 : input.clusterSize,
    icc: clustered ? 0 : input.icc,
  });
  const perCluster = clustered && current?.clusters ? current.lines / current.clusters : undefined;
  const plan: SamplePlan = { ...size, difference: input.difference, alpha: input.alpha, power: input.power, sd, basis };
  if (perCluster) {
    plan.clusters = Math.ceil(size.lines / perCluster);
    plan.lines = Math.ceil(plan.clusters * perCluster);
  }
  if (current) plan.current = current;
  return plan;
}

function spread(
  source: SampleSource,
  input: PlanInput,
): { sd: number; basis: string; current?: SamplePlan['current']; clustered?: boolean } {
  if (source.kind === 'sd') return { sd: source.sd, basis: `a per-line standard deviation of ${source.sd}` };
  if (source.kind === 'rate') {
    // The rate the difference leads to: the way given when it stays a rate, else the other way (two-sided).
    const moved = [source.rate + input.difference, source.rate - input.difference].find((x) => x >= 0 && x <= 1);
    if (moved === undefined)
      throw ConfigError.at(
        { file: 'option --difference' },
        `found ${input.difference}, expected a difference a pass rate of ${source.rate} can move by (at most ${round(Math.max(source.rate, 1 - source.rate))})`,
      );
    // A rate at or near 0 or 1 has almost no spread itself; the rate it moves to has more, and sets the lines.
    if (!source.paired)
      return { sd: Math.max(bernoulliSd(source.rate), bernoulliSd(moved)), basis: `a pass rate of ${source.rate}` };
    const other = Math.min(1, Math.max(0, source.rate + input.difference));
    return {
      sd: pairedBernoulliSd(source.rate, other, source.paired.correlation),
      basis: `paired pass rates ${source.rate} and ${round(other)} (correlation ${source.paired.correlation})`,
    };
  }
  const r = source.results;
  const mde = (se: number, df?: number) => minimumDetectableEffect(se, { alpha: input.alpha, power: input.power, df });
  if (source.against) {
    const c = r.comparisons.find(
      (x) =>
        x.metric === source.metric &&
        x.against === source.against &&
        (!source.evaluator || x.evaluator === source.evaluator) &&
        (!source.variant || x.variantId === source.variant),
    );
    if (!c || c.ciLow === null || c.ciHigh === null || !(c.ciHigh > c.ciLow))
      throw ConfigError.at(
        { file: source.file },
        `no comparison of "${source.metric}" against ${source.against} with an interval, expected one of: ${r.comparisons.map((x) => `${x.evaluator}.${x.metric} (${x.variantId} vs ${x.against})`).join(', ') || 'none'}`,
      );
    const df =
      c.test === 'paired-t' ? c.n - 1 : c.test === 'cluster-paired-t' && c.clusters ? c.clusters - 1 : undefined;
    const se = standardErrorFromInterval(c.ciLow, c.ciHigh, 0.95, df);
    return {
      sd: se * Math.sqrt(c.n),
      basis: `the paired comparison of ${c.evaluator}.${c.metric}, ${c.variantId} vs ${c.against} (${c.n} lines${c.clusters ? `, ${c.clusters} clusters` : ''}) in ${source.file}`,
      current: { lines: c.n, ...(c.clusters ? { clusters: c.clusters } : {}), mde: mde(se) },
      clustered: c.clusters !== undefined,
    };
  }
  const m = r.metrics.find(
    (x) =>
      x.metric === source.metric &&
      x.interval &&
      (!source.evaluator || x.evaluator === source.evaluator) &&
      (!source.variant || x.variantId === source.variant),
  );
  if (!m?.interval)
    throw ConfigError.at(
      { file: source.file },
      `no metric "${source.metric}" with per-line scores, expected one of: ${[...new Set(r.metrics.filter((x) => x.interval).map((x) => `${x.evaluator}.${x.metric}`))].join(', ') || 'none'}`,
    );
  const iv = m.interval;
  const clusters = iv.clusters;
  // A proportion's spread is known from its rate; other metrics' from their interval's width.
  const se =
    m.kind === 'boolean' && clusters === undefined
      ? bernoulliSd(m.value) / Math.sqrt(iv.n)
      : standardErrorFromInterval(iv.lower, iv.upper, iv.level, clusters ? clusters - 1 : iv.n - 1);
  return {
    sd: se * Math.sqrt(iv.n),
    basis: `${m.evaluator}.${m.metric} of ${m.variantId} = ${round(m.value)} over ${iv.n} lines${clusters ? ` in ${clusters} clusters` : ''} in ${source.file}`,
    current: { lines: iv.n, ...(clusters ? { clusters } : {}), mde: mde(se) },
    clustered: clusters !== undefined,
  };
}

/** The plan in words, for the console and a PR comment. */
export function describePlan(plan: SamplePlan): string[] {
  const out = [
    `To detect a difference of ${plan.difference} (two-sided, α = ${plan.alpha}, power ${plan.power}) from ${plan.basis}:`,
    plan.clusters !== plan.lines
      ? `  ${plan.lines} lines in ${plan.clusters} clusters${plan.designEffect !== 1 ? ` (design effect ${round(plan.designEffect)})` : ''}`
      : `  ${plan.lines} lines`,
    `  (per-line standard deviation ${round(plan.sd)})`,
  ];
  if (plan.current)
    out.push(
      `  The current ${plan.current.lines} lines detect ${round(plan.current.mde)} or more; ${plan.current.lines >= plan.lines ? 'they are enough' : `${plan.lines - plan.current.lines} more needed`}.`,
    );
  return out;
}

function round(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(3))) : String(x);
}

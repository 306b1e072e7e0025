/**
 * Quality gates: absolute thresholds on a metric (or its confidence bound) and regression
 * limits against a baseline, with significance. A gate never passes silently on missing data:
 * a missing metric fails it; a regression check without a baseline or with too few paired
 * lines is "skipped" and says why.
 */
import type { Gate } from '../config/types.js';
import type { GateResult, MetricResult } from '../results/model.js';
import { baselineReference, pairedComparison, type Analysed, type Reference } from './analysis.js';
import { decideVerdict } from './stats/index.js';
import { comparisonMde, zeroFailureBound } from './stats/power.js';
import { earlyStopGateResult, type SequentialVerdicts } from './early-stop-verdict.js';

export function evaluateGates(
  gates: Gate[],
  results: Analysed,
  baseline?: Analysed,
  sequential?: SequentialVerdicts,
): GateResult[] {
  return gates.flatMap((gate, index) => {
    const name = gate.name ?? defaultName(gate);
    const candidates = results.metrics.filter(
      (m) => m.metric === gate.metric && (!gate.evaluator || m.evaluator === gate.evaluator),
    );
    if (candidates.length === 0) {
      const known = [...new Set(results.metrics.map((m) => `${m.evaluator}.${m.metric}`))].join(', ') || 'none';
      return [
        {
          name,
          metric: gate.metric,
          evaluator: gate.evaluator,
          variantId: '*',
          status: 'failed',
          threshold: thresholdText(gate),
          message: `no evaluator reported the metric "${gate.metric}" (metrics reported: ${known})`,
        },
      ];
    }
    return pickVariants(gate, candidates, results).map((m) => {
      const checked = checkGate(gate, name, m, results, baseline);
      const runs = gate.earlyStop ? sequential?.(index, m.variantId) : undefined;
      if (!runs) return checked;
      const { name: n, metric, evaluator, variantId, threshold } = checked;
      return earlyStopGateResult(gate, { name: n, metric, evaluator, variantId, threshold }, runs, checked);
    });
  });
}

function pickVariants(gate: Gate, metrics: MetricResult[], results: Analysed): MetricResult[] {
  if (gate.variants === 'default') {
    const id = results.variants.find((v) => v.isDefault)?.id;
    return metrics.filter((m) => m.variantId === id);
  }
  if (gate.variants === 'best') {
    const higher = gate.higherIsBetter;
    return [metrics.reduce((best, m) => ((higher ? m.value > best.value : m.value < best.value) ? m : best))];
  }
  return metrics;
}

function checkGate(gate: Gate, name: string, m: MetricResult, results: Analysed, baseline?: Analysed): GateResult {
  const base = {
    name,
    metric: gate.metric,
    evaluator: m.evaluator,
    variantId: m.variantId,
    threshold: thresholdText(gate),
  };
  if (gate.compareTo !== undefined) return checkDifference(gate, base, m, results, baseline);
  return withRuleOfThree(checkBounds(gate, base, m, results, baseline), m);
}

type GateBase = Pick<GateResult, 'name' | 'metric' | 'evaluator' | 'variantId' | 'threshold'>;

function checkBounds(gate: Gate, base: GateBase, m: MetricResult, results: Analysed, baseline?: Analysed): GateResult {
  const failures: string[] = [];
  let observed = m.value;

  if (gate.min !== undefined || gate.max !== undefined) {
    if (gate.bound === 'confidence' && !m.interval) {
      return {
        ...base,
        status: 'failed',
        observed: m.value,
        message: `${m.metric} = ${fmt(m.value)} has no per-line scores, so its confidence bound is unknown (use bound: value, or an evaluator with per-line scores)`,
      };
    }
    const low = gate.bound === 'confidence' ? m.interval!.lower : m.value;
    const high = gate.bound === 'confidence' ? m.interval!.upper : m.value;
    const what =
      gate.bound === 'confidence'
        ? `the ${Math.round((m.interval?.level ?? 0.95) * 100)}% confidence bound of ${m.metric}`
        : m.metric;
    if (gate.min !== undefined && !(low >= gate.min))
      failures.push(`${what} is ${fmt(low)}, below the minimum ${fmt(gate.min)}`);
    if (gate.max !== undefined && !(high <= gate.max))
      failures.push(`${what} is ${fmt(high)}, above the maximum ${fmt(gate.max)}`);
    observed = gate.min !== undefined ? low : high;
  }

  const regression = gate.maxDrop !== undefined || gate.maxRelativeDrop !== undefined;
  if (regression) {
    const outcome = checkRegression(gate, m, results, baseline);
    const power = powerFields(outcome.mde, gate.maxDrop, 'a drop');
    if (outcome.status === 'skipped' && failures.length === 0) {
      return {
        ...base,
        status: gate.min !== undefined || gate.max !== undefined ? 'passed' : 'skipped',
        observed,
        message: outcome.message,
      };
    }
    if (outcome.status === 'failed') {
      if (failures.length === 0 && (power.mde !== undefined || power.warning))
        return {
          ...base,
          status: 'failed',
          observed,
          message: outcome.message,
          ...power,
        };
      failures.push(outcome.message);
    } else if (failures.length === 0)
      return { ...base, status: 'passed', observed: outcome.observed ?? observed, message: outcome.message, ...power };
  }

  if (failures.length) return { ...base, status: 'failed', observed, message: failures.join('; ') };
  return {
    ...base,
    status: 'passed',
    observed,
    message: `${m.metric} = ${fmt(m.value)}${m.interval ? ` [${fmt(m.interval.lower)}, ${fmt(m.interval.upper)}]` : ''} meets ${base.threshold}`,
  };
}

function checkRegression(
  gate: Gate,
  m: MetricResult,
  results: Analysed,
  baseline?: Analysed,
): { status: 'passed' | 'failed' | 'skipped'; message: string; observed?: number; mde?: number } {
  if (!baseline) return { status: 'skipped', message: 'regression limits skipped: no baseline results' };
  const baseMetric =
    baseline.metrics.find((b) => b.evaluator === m.evaluator && b.metric === m.metric && b.variantId === m.variantId) ??
    baseline.metrics.find(
      (b) =>
        b.evaluator === m.evaluator &&
        b.metric === m.metric &&
        baseline.variants.find((v) => v.isDefault)?.id === b.variantId,
    );
  if (!baseMetric)
    return { status: 'skipped', message: `regression limits skipped: the baseline has no ${m.evaluator}.${m.metric}` };
  const sign = gate.higherIsBetter ? 1 : -1;
  const drop = sign * (baseMetric.value - m.value);
  const relative = baseMetric.value !== 0 ? drop / Math.abs(baseMetric.value) : drop > 0 ? Infinity : 0;
  const tooMuch =
    (gate.maxDrop !== undefined && drop > gate.maxDrop + 1e-12) ||
    (gate.maxRelativeDrop !== undefined && relative > gate.maxRelativeDrop + 1e-12);
  const change = `${m.metric} ${fmt(baseMetric.value)} → ${fmt(m.value)} (drop ${fmt(drop)}${Number.isFinite(relative) ? `, ${fmt(relative * 100)}%` : ''})`;
  if (!tooMuch) return { status: 'passed', message: `${change} within the regression limit`, observed: drop };
  if (!gate.requireSignificance)
    return { status: 'failed', message: `${change} exceeds the regression limit`, observed: drop };

  const ref = baselineReference(baseline, m);
  if (!m.scoreKey || !ref)
    return {
      status: 'failed',
      message: `${change} exceeds the regression limit (no per-line scores to test its significance)`,
    };
  const c = pairedComparison(m, results, ref);
  const mde = comparisonMde(c);
  const v = decideVerdict(c, { minN: gate.minLines, higherIsBetter: gate.higherIsBetter });
  if (v.reason === 'too-few-lines') return { status: 'skipped', message: `${change}: inconclusive, ${v.message}` };
  if (v.verdict === 'Degraded')
    return {
      status: 'failed',
      message: `${change} exceeds the regression limit and is significant (${c.test}, p = ${fmt(c.pValue)})`,
      observed: drop,
      mde,
    };
  return {
    status: 'passed',
    message: `${change} exceeds the limit but is not significant (${v.message})`,
    observed: drop,
    mde,
  };
}

/**
 * A gate on the paired difference (variant − reference) between two variants, or a variant and the baseline:
 * its confidence bound, not the point difference, must clear min_difference / max_difference.
 */
function checkDifference(
  gate: Gate,
  base: GateBase,
  m: MetricResult,
  results: Analysed,
  baseline?: Analysed,
): GateResult {
  const ref = differenceReference(gate.compareTo!, m, results, baseline);
  if ('problem' in ref) return { ...base, status: ref.status, message: ref.problem };
  if (!m.scoreKey)
    return {
      ...base,
      status: 'failed',
      message: `${m.metric} has no per-line scores, so the confidence bound of its difference against ${ref.label} is unknown`,
    };
  const c = pairedComparison(m, results, ref.reference);
  const mde = comparisonMde(c);
  const change = `${m.metric} ${ref.label} ${fmt(c.referenceMean)} → ${m.variantId} ${fmt(c.candidateMean)} (difference ${signed(c.delta)}`;
  if (c.n < gate.minLines || c.ciLow === null || c.ciHigh === null)
    return {
      ...base,
      status: 'skipped',
      message: `${change}): inconclusive, ${c.n} paired lines (at least ${gate.minLines} needed for a confidence bound)`,
      ...(mde !== undefined ? { mde } : {}),
    };
  const level = `${Math.round(c.level * 100)}%`;
  const interval = `${level} CI [${signed(c.ciLow)}, ${signed(c.ciHigh)}], ${c.test}, n = ${c.n}${c.clusters !== undefined ? `, ${c.clusters} clusters` : ''}`;
  const failures: string[] = [];
  if (gate.minDifference !== undefined && !(c.ciLow >= gate.minDifference))
    failures.push(`its lower bound ${signed(c.ciLow)} is below ${signed(gate.minDifference)}`);
  if (gate.maxDifference !== undefined && !(c.ciHigh <= gate.maxDifference))
    failures.push(`its upper bound ${signed(c.ciHigh)} is above ${signed(gate.maxDifference)}`);
  const margin = gate.minDifference ?? gate.maxDifference;
  const power = powerFields(mde, margin === undefined ? undefined : Math.abs(margin), 'a difference');
  const observed = gate.minDifference !== undefined ? c.ciLow : c.ciHigh;
  return {
    ...base,
    status: failures.length ? 'failed' : 'passed',
    observed,
    message: `${change}, ${interval})${failures.length ? `: ${failures.join('; ')}` : ` meets ${base.threshold}`}`,
    ...power,
  };
}

function differenceReference(
  compareTo: string,
  m: MetricResult,
  results: Analysed,
  baseline?: Analysed,
): { reference: Reference; label: string } | { problem: string; status: 'failed' | 'skipped' } {
  if (compareTo === 'baseline') {
    if (!baseline) return { status: 'skipped', problem: 'difference to the baseline skipped: no baseline results' };
    const reference = baselineReference(baseline, m);
    if (!reference)
      return {
        status: 'skipped',
        problem: `difference to the baseline skipped: the baseline has no per-line ${m.evaluator}.${m.metric}`,
      };
    return { reference, label: 'baseline' };
  }
  const id = compareTo === 'default' ? results.variants.find((v) => v.isDefault)?.id : compareTo;
  const variant = results.variants.find((v) => v.id === id);
  if (!variant)
    return {
      status: 'failed',
      problem: `compare_to: no variant "${compareTo}" in this run (variants: ${results.variants.map((v) => v.id).join(', ')}, or default, baseline)`,
    };
  if (variant.id === m.variantId)
    return { status: 'skipped', problem: `${m.variantId} is the variant compared to (compare_to: ${compareTo})` };
  const refMetric = results.metrics.find(
    (r) => r.evaluator === m.evaluator && r.metric === m.metric && r.variantId === variant.id && r.scoreKey,
  );
  if (!refMetric)
    return {
      status: 'failed',
      problem: `variant ${variant.id} has no per-line ${m.evaluator}.${m.metric} to compare to`,
    };
  return {
    reference: { table: results.table, variantId: variant.id, scoreKey: refMetric.scoreKey! },
    label: variant.id,
  };
}

/** The MDE beside a gate, and a warning when the gate asks about a difference smaller than it. */
function powerFields(
  mde: number | undefined,
  asked: number | undefined,
  what: string,
): Pick<GateResult, 'mde' | 'warning'> {
  if (mde === undefined) return {};
  if (asked === undefined || asked === 0 || asked >= mde) return { mde };
  return {
    mde,
    warning: `the gate asks about ${what} of ${fmt(asked)}, but these lines can only detect ${fmt(mde)} or more with 80% power; add lines (llmops plan-sample) or widen the limit`,
  };
}

/** When every line of a pass/fail metric passed: the rule-of-three bound on how often it could still fail. */
function withRuleOfThree(g: GateResult, m: MetricResult): GateResult {
  const n = m.interval?.n;
  if (m.kind !== 'boolean' || !m.higherIsBetter || !n || m.value !== 1 || g.status !== 'passed') return g;
  const bound = zeroFailureBound(n).ruleOfThree;
  return {
    ...g,
    failureRateBound: bound,
    message: `${g.message}; all ${n} lines passed, so the failure rate is at most ${fmt(bound * 100)}% (95%, rule of three)`,
  };
}

function signed(x: number): string {
  return x > 0 ? `+${fmt(x)}` : fmt(x);
}

function defaultName(gate: Gate): string {
  return `${gate.evaluator ? `${gate.evaluator}.` : ''}${gate.metric} ${thresholdText(gate)}`;
}

export function thresholdText(gate: Gate): string {
  const parts: string[] = [];
  const bound = gate.bound === 'confidence' ? ' (confidence bound)' : '';
  if (gate.min !== undefined) parts.push(`≥ ${gate.min}${bound}`);
  if (gate.max !== undefined) parts.push(`≤ ${gate.max}${bound}`);
  if (gate.maxDrop !== undefined) parts.push(`drop ≤ ${gate.maxDrop}`);
  if (gate.maxRelativeDrop !== undefined) parts.push(`relative drop ≤ ${gate.maxRelativeDrop * 100}%`);
  if (gate.compareTo !== undefined) {
    const vs = `vs ${gate.compareTo}`;
    if (gate.minDifference !== undefined) parts.push(`difference ${vs} ≥ ${gate.minDifference} (confidence bound)`);
    if (gate.maxDifference !== undefined) parts.push(`difference ${vs} ≤ ${gate.maxDifference} (confidence bound)`);
  }
  return parts.join(', ');
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 100 || Number.isInteger(x)
    ? String(Math.round(x * 100) / 100)
    : x.toPrecision(3).replace(/\.?0+$/, '');
}

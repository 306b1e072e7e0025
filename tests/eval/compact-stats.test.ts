/**
 * Statistics from the compact per-line arrays equal what the report computed from one object per line
 * (fixtures/stats-before.json, captured from that implementation): metrics with intervals, paired comparisons
 * against the default variant and a baseline, and gates.
 */
import { readFileSync } from 'node:fs';
import { computeComparisons, computeMetrics } from '../../src/shared/eval/analysis.js';
import { evaluateGates } from '../../src/shared/eval/gates.js';
import { LineTable } from '../../src/shared/results/line-table.js';
import { baseline, current, gates, variants, type Experiment } from './stats-fixture.js';

const before = JSON.parse(readFileSync('tests/eval/fixtures/stats-before.json', 'utf8'));

/** As the report builds it: the runs in the runs file's order first, then lines as they come. */
function analyse(e: Experiment) {
  const table = new LineTable();
  for (const r of e.runs) table.addRun(r.runId, r.variantId, r.dataset);
  for (const line of e.lines) table.addLine(line);
  table.compact();
  return { metrics: computeMetrics(e.evaluations, table, variants), table, variants };
}

/** The fixture's lines shuffled, as the run store holds them (finishing order). */
function shuffled(e: Experiment): Experiment {
  let seed = 5;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  const lines = e.lines
    .map((line) => ({ line, key: next() }))
    .sort((a, b) => a.key - b.key)
    .map((x) => x.line);
  return { ...e, lines };
}

/**
 * The fixture predates the power fields (the MDE of comparisons and regression gates, the warning when a gate asks
 * for less than it, the rule-of-three bound): compare everything else with it, and check those fields apart.
 */
function beforePowerFields<T extends object>(items: T[]): T[] {
  return items.map((item) => {
    const { mde: _mde, warning: _warning, failureRateBound: _bound, ...rest } = item as Record<string, unknown>;
    return rest as T;
  });
}

describe('statistics from compact per-line arrays', () => {
  const cur = analyse(current());
  const base = analyse(baseline());

  it('metrics and intervals equal the per-object results (boolean, continuous and likert columns)', () => {
    expect(cur.metrics).toEqual(before.metrics);
    expect(base.metrics).toEqual(before.baselineMetrics);
    expect(new Set(cur.metrics.map((m) => m.interval?.method))).toEqual(
      new Set(['wilson', 't', 'bootstrap', undefined]),
    );
  });

  it('comparisons against the default variant and the baseline equal the per-object results', () => {
    const comparisons = computeComparisons(cur, base, { minLines: 10 });
    expect(beforePowerFields(comparisons)).toEqual(before.comparisons);
    expect(
      comparisons.filter((c) => c.ciLow !== null && c.ciHigh !== null && c.ciHigh > c.ciLow).every((c) => c.mde! > 0),
    ).toBe(true);
    expect(new Set(comparisons.map((c) => c.test))).toEqual(new Set(['mcnemar-chi2', 'paired-t', 'wilcoxon-normal']));
  });

  it('gates equal the per-object results, with and without a baseline', () => {
    expect(beforePowerFields(evaluateGates(gates, cur, base))).toEqual(before.gates);
    expect(beforePowerFields(evaluateGates(gates, cur))).toEqual(before.gatesWithoutBaseline);
  });

  it('do not depend on the order lines arrive in', () => {
    const a = analyse(shuffled(current()));
    const b = analyse(shuffled(baseline()));
    expect(a.metrics).toEqual(before.metrics);
    expect(beforePowerFields(computeComparisons(a, b, { minLines: 10 }))).toEqual(before.comparisons);
    expect(beforePowerFields(evaluateGates(gates, a, b))).toEqual(before.gates);
  });

  it('hold a score column as one Float64Array per run, and drop text columns', () => {
    const run = cur.table.runs[0];
    expect(cur.table.columnsOf('grader')).toEqual(new Map([['grader.grade', 'boolean']]));
    expect(cur.table.columnsOf('judge')).toEqual(
      new Map([
        ['judge.similarity', 'continuous'],
        ['judge.rating', 'likert'],
      ]),
    );
    expect(run.score('grader.grade', 0)).toBe(current().lines[0].scores['grader.grade'] === 'Correct' ? 1 : 0);
    expect(run.score('grader.reason', 0)).toBeUndefined();
    expect(run.score('grader.grade', 5)).toBeUndefined(); // a failed line has no score
    expect(run.score('grader.grade', 7)).toBeUndefined(); // not scored
  });
});

/**
 * Wilcoxon signed-rank test for paired ordinal (Likert) scores, with Pratt's or Wilcoxon's
 * handling of zero differences, an exact conditional distribution for small samples and the
 * normal approximation (tie and continuity corrected) otherwise.
 * @module
 */
import { comparisonBase, differences, type Comparison } from './comparison.js';
import { DEFAULT_LEVEL } from './intervals.js';
import { normalSurvival } from './special.js';

/** Largest number of non-zero differences for which 'auto' uses the exact distribution. */
export const WILCOXON_EXACT_MAX_N = 50;
/** 'auto' also needs the doubled rank sum below this (many Pratt zeros inflate the ranks, and the work). */
const EXACT_MAX_RANK_SUM = 200_000;

export interface WilcoxonOptions {
  /**
   * Zero differences: 'pratt' (default, as Foundry's agent-evals) ranks them with the rest and then
   * drops them; 'wilcox' drops them before ranking.
   */
  zeroMethod?: 'pratt' | 'wilcox';
  /** 'auto' (default): exact when at most 50 non-zero differences (and their doubled rank sum ≤ 200,000), else normal. */
  method?: 'auto' | 'exact' | 'normal';
  /** Continuity correction of the normal approximation; default true. */
  continuityCorrection?: boolean;
  /** Carried into the result's `level`; Wilcoxon itself gives no interval for the mean delta. */
  level?: number;
}

/** Mid-ranks (1-based) of the values; tied values share the average of their ranks. */
export function midRanks(values: readonly number[]): number[] {
  const order = values.map((_, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Array<number>(values.length);
  for (let start = 0; start < order.length;) {
    let end = start;
    while (end + 1 < order.length && values[order[end + 1]] === values[order[start]]) end++;
    const rank = (start + end + 2) / 2;
    for (let k = start; k <= end; k++) ranks[order[k]] = rank;
    start = end + 1;
  }
  return ranks;
}

/**
 * Exact two-sided p-value of W+ given the ranks: every sign pattern of the non-zero differences is
 * equally likely under H0. Ranks are doubled so mid-ranks (x.5) become integers; the distribution
 * is then the conditional (permutation) one, valid with ties and Pratt zeros too.
 */
function exactPValue(ranks: readonly number[], wPlus: number): number {
  const doubled = ranks.map((r) => Math.round(2 * r));
  const total = doubled.reduce((a, b) => a + b, 0);
  let dist = new Float64Array(total + 1);
  let next = new Float64Array(total + 1);
  dist[0] = 1;
  let reach = 0;
  for (const r of doubled) {
    next.fill(0, 0, reach + r + 1);
    for (let s = 0; s <= reach; s++) {
      const half = dist[s] / 2;
      next[s] += half;
      next[s + r] += half;
    }
    reach += r;
    [dist, next] = [next, dist];
  }
  const observed = Math.round(2 * wPlus);
  let lower = 0;
  let upper = 0;
  for (let s = 0; s <= total; s++) {
    if (s <= observed) lower += dist[s];
    if (s >= observed) upper += dist[s];
  }
  return Math.min(1, 2 * Math.min(lower, upper));
}

/**
 * Wilcoxon signed-rank test of candidate − reference. `statistic` is W+, the rank sum of the
 * positive differences. Result `ciLow`/`ciHigh` are null: the test has no interval for the
 * mean difference (`compareScores` adds a bootstrap one for Likert metrics).
 */
export function wilcoxonSignedRank(
  candidate: readonly number[],
  reference: readonly number[],
  options: WilcoxonOptions = {},
): Comparison {
  const level = options.level ?? DEFAULT_LEVEL;
  const all = differences(candidate, reference, 'wilcoxonSignedRank');
  const base = comparisonBase(candidate, reference, level, 'wilcoxonSignedRank');
  const pratt = (options.zeroMethod ?? 'pratt') === 'pratt';
  const d = pratt ? all : all.filter((x) => x !== 0);
  const allRanks = midRanks(d.map(Math.abs));
  const nonZero = d.map((x, i) => ({ x, rank: allRanks[i] })).filter((e) => e.x !== 0);
  const wPlus = nonZero.reduce((sum, e) => sum + (e.x > 0 ? e.rank : 0), 0);
  const m = nonZero.length;
  const method = options.method ?? 'auto';
  const rankSum = nonZero.reduce((sum, e) => sum + 2 * e.rank, 0);
  const useExact =
    method === 'exact' || (method === 'auto' && m <= WILCOXON_EXACT_MAX_N && rankSum <= EXACT_MAX_RANK_SUM);
  const result = { ...base, ciLow: null, ciHigh: null, statistic: wPlus };
  if (m === 0) return { ...result, test: useExact ? 'wilcoxon-exact' : 'wilcoxon-normal', pValue: 1 };
  if (useExact)
    return {
      ...result,
      test: 'wilcoxon-exact',
      pValue: exactPValue(
        nonZero.map((e) => e.rank),
        wPlus,
      ),
    };

  const n = d.length;
  const zeros = n - m;
  const expected = (n * (n + 1) - zeros * (zeros + 1)) / 4;
  let variance = (n * (n + 1) * (2 * n + 1) - zeros * (zeros + 1) * (2 * zeros + 1)) / 24;
  // Tie correction: each group of t equal non-zero |d| removes (t³ − t) / 48.
  const groups = new Map<number, number>();
  for (const e of nonZero) groups.set(e.rank, (groups.get(e.rank) ?? 0) + 1);
  for (const t of groups.values()) variance -= (t * t * t - t) / 48;
  if (variance <= 0) return { ...result, test: 'wilcoxon-normal', pValue: 1 };
  const shift = Math.abs(wPlus - expected);
  const z = ((options.continuityCorrection ?? true) ? Math.max(0, shift - 0.5) : shift) / Math.sqrt(variance);
  return { ...result, test: 'wilcoxon-normal', pValue: Math.min(1, 2 * normalSurvival(z)) };
}

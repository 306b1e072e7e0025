/**
 * One entry point for "is the candidate different from the reference on this metric": pairs the
 * rows, then picks the paired test from the score kind.
 * @module
 */
import { hasRepeats, type ClusterId, type ClusterIds } from './clustered.js';
import type { Comparison } from './comparison.js';
import { clusteredPairedTest, mcnemarTest, pairedBootstrap, pairedTTest } from './paired-tests.js';
import { pairRows, type Pairing, type ScoreRow } from './pairing.js';
import { toNumbers, type ScoreKind } from './summarize.js';
import { wilcoxonSignedRank, type WilcoxonOptions } from './wilcoxon.js';

export interface CompareOptions {
  /** Confidence level of the delta interval; default 0.95. */
  level?: number;
  /** Bootstrap resamples (Likert intervals, or `bootstrap: true`); default 2,000. */
  resamples?: number;
  /** Bootstrap seed; default DEFAULT_SEED. */
  seed?: number;
  /** Continuous scores: use the paired bootstrap instead of the paired t-test; default false. */
  bootstrap?: boolean;
  /** McNemar: exact binomial test below this many discordant pairs; default 25. */
  exactBelow?: number;
  /** Wilcoxon options (zero handling, exact/normal); defaults as in `wilcoxonSignedRank`. */
  wilcoxon?: Omit<WilcoxonOptions, 'level'>;
}

/** A comparison plus what the pairing left out, so a report can warn about unpaired lines. */
export interface ScoreComparison extends Comparison {
  pairing: Omit<Pairing, 'pairs'>;
}

/**
 * Compares candidate rows with reference rows paired by (id, repeat). The test, by kind:
 *
 * - `boolean` → McNemar (exact below 25 discordant pairs, else chi-square with continuity correction).
 * - `continuous` → paired t-test (or the paired bootstrap with `bootstrap: true`).
 * - `likert` → Wilcoxon signed-rank for the p-value, with a paired-bootstrap interval for the delta
 *   (`ciMethod: 'paired-bootstrap'`).
 *
 * With repeats (some test-case id paired more than once) lines of one test case are not
 * independent: `boolean` and `continuous` use the cluster-robust paired t-test (G − 1 df);
 * `likert` runs Wilcoxon on the per-test-case mean differences and a cluster bootstrap interval.
 */
export function compareScores(
  candidate: readonly ScoreRow[],
  reference: readonly ScoreRow[],
  kind: ScoreKind,
  options: CompareOptions = {},
): ScoreComparison {
  const { pairs, ...pairing } = pairRows(candidate, reference);
  const result = comparePaired(
    pairs.map((p) => p.candidate),
    pairs.map((p) => p.reference),
    kind,
    options,
    pairs.map((p) => p.id),
  );
  return { ...result, pairing };
}

/**
 * The test of `compareScores` on values already paired: `candidate[i]` and `reference[i]` are the same test
 * case. `ids` (the test case of each pair) matter only when some test case repeats; without them every pair
 * is its own test case — what the report passes for its line-aligned arrays, with no object per line.
 */
export function comparePaired(
  candidateValues: readonly number[],
  referenceValues: readonly number[],
  kind: ScoreKind,
  options: CompareOptions = {},
  ids?: ClusterIds,
): Comparison {
  const cand = toNumbers(candidateValues, kind);
  const ref = toNumbers(referenceValues, kind);
  const repeated = ids !== undefined && hasRepeats(ids);
  const { level, resamples, seed } = options;
  const bootstrapOptions = { level, resamples, seed, clusterIds: repeated ? ids : undefined };

  if (kind === 'likert') {
    const boot = pairedBootstrap(cand, ref, bootstrapOptions);
    const [c, r] = repeated ? clusterMeans(cand, ref, ids) : [cand, ref];
    const w = wilcoxonSignedRank(c, r, { ...options.wilcoxon, level });
    // The means and n stay those of all lines; only the test runs on test-case means.
    return {
      ...boot,
      test: w.test,
      pValue: w.pValue,
      statistic: w.statistic,
      ciMethod: repeated ? 'cluster-bootstrap' : 'paired-bootstrap',
    };
  }
  if (repeated) return clusteredPairedTest(cand, ref, ids, { level });
  if (kind === 'boolean') return mcnemarTest(cand, ref, { level, exactBelow: options.exactBelow });
  return options.bootstrap ? pairedBootstrap(cand, ref, bootstrapOptions) : pairedTTest(cand, ref, { level });
}

/** Per-test-case means of the candidate and reference values, in order of first appearance. */
function clusterMeans(cand: readonly number[], ref: readonly number[], ids: ClusterIds): [number[], number[]] {
  const at = new Map<ClusterId, { c: number; r: number; k: number }>();
  for (let i = 0; i < ids.length; i++) {
    const e = at.get(ids[i]) ?? { c: 0, r: 0, k: 0 };
    e.c += cand[i];
    e.r += ref[i];
    e.k += 1;
    at.set(ids[i], e);
  }
  const groups = [...at.values()];
  return [groups.map((e) => e.c / e.k), groups.map((e) => e.r / e.k)];
}

import {
  clusteredPairedTest,
  compareScores,
  mcnemarTest,
  pairedBootstrap,
  pairedTTest,
  pairRows,
  wilcoxonSignedRank,
  type ScoreRow,
} from '../../../src/shared/eval/stats/index.js';

/*
 * Reference values come from a one-off Python 3 stdlib script (no scipy), quoted where used.
 * tcdf(x, v) there is Simpson's rule on the t density (20,000 intervals); tq is its bisection inverse.
 */

/** Builds paired 0/1 arrays with b (candidate 1, reference 0), c (0, 1) and `same` concordant pairs. */
function booleanPairs(b: number, c: number, same: number): [number[], number[]] {
  const cand = [...Array(b).fill(1), ...Array(c).fill(0), ...Array(same).fill(1)];
  const ref = [...Array(b).fill(0), ...Array(c).fill(1), ...Array(same).fill(1)];
  return [cand, ref];
}

describe('McNemar (boolean scores)', () => {
  it('uses the exact binomial test below 25 discordant pairs: b = 8, c = 2 → p = 0.109375', () => {
    // By hand: 2 · Σ_{k=0..2} C(10, k) / 2^10 = 2 · (1 + 10 + 45) / 1024 = 0.109375
    const [cand, ref] = booleanPairs(8, 2, 10);
    const r = mcnemarTest(cand, ref);
    expect(r.test).toBe('mcnemar-exact');
    expect(r.pValue).toBeCloseTo(0.109375, 12);
    expect(r.delta).toBeCloseTo(0.3, 12); // (8 − 2) / 20
    // Agresti–Min interval (0.5 added to each cell), Python:
    //   b1, c1, n1 = 8.5, 2.5, 22; ce = (b1-c1)/n1; se = sqrt(((b1+c1)/n1 - ce*ce)/n1); ce ∓ z*se
    expect(r.ciLow).toBeCloseTo(0.00011357098464853665, 10);
    expect(r.ciHigh).toBeCloseTo(0.5453409744698969, 10);
  });

  it('uses chi-square with continuity correction from 25 discordant pairs: b = 30, c = 12', () => {
    // By hand: (|30 − 12| − 1)² / 42 = 289 / 42 = 6.880952; p = math.erfc(sqrt(6.880952/2)) = 0.008711912962379598
    const [cand, ref] = booleanPairs(30, 12, 18);
    const r = mcnemarTest(cand, ref);
    expect(r.test).toBe('mcnemar-chi2');
    expect(r.statistic).toBeCloseTo(289 / 42, 12);
    expect(r.pValue).toBeCloseTo(0.008711912962379598, 10);
  });

  it('gives p = 1 when no pair disagrees', () => {
    const [cand, ref] = booleanPairs(0, 0, 12);
    expect(mcnemarTest(cand, ref)).toMatchObject({ pValue: 1, delta: 0 });
  });
});

describe('paired t-test (continuous scores)', () => {
  const cand = [0.82, 0.75, 0.91, 0.68, 0.88, 0.79, 0.85, 0.72, 0.9, 0.81];
  const ref = [0.78, 0.7, 0.85, 0.69, 0.8, 0.75, 0.8, 0.7, 0.86, 0.77];

  it('matches the reference computation on ten pairs', () => {
    // Python: d = cand − ref; dm = statistics.mean(d) = 0.041; se = statistics.stdev(d)/sqrt(10);
    // t = 5.451879148288626; p = 2*(1 − tcdf(t, 9)) = 0.0004046764228191613;
    // CI with the t table's t(0.975, 9) = 2.262157: [0.023987803933784153, 0.05801219606621588]
    const r = pairedTTest(cand, ref);
    expect(r.test).toBe('paired-t');
    expect(r.delta).toBeCloseTo(0.041, 12);
    expect(r.statistic).toBeCloseTo(5.451879148288626, 9);
    expect(r.pValue).toBeCloseTo(0.0004046764228191613, 9);
    expect(r.ciLow).toBeCloseTo(0.023987803933784153, 6);
    expect(r.ciHigh).toBeCloseTo(0.05801219606621588, 6);
  });

  it('paired bootstrap: reproducible, agrees in sign, and its interval excludes 0 here', () => {
    const a = pairedBootstrap(cand, ref, { seed: 11 });
    expect(pairedBootstrap(cand, ref, { seed: 11 })).toEqual(a);
    expect(a.test).toBe('paired-bootstrap');
    expect(a.ciLow!).toBeGreaterThan(0);
    expect(a.ciHigh!).toBeLessThan(0.08);
    expect(a.pValue).toBe(0); // no resampled mean difference reached 0 (one line of ten is −0.01)
  });

  it('refuses arrays that do not line up', () => {
    expect(() => pairedTTest([1, 2], [1])).toThrow(/2 candidate values but 1 reference values/);
  });
});

describe('Wilcoxon signed-rank (Likert scores)', () => {
  // Differences 1,1,0,2,1,0,−1,2,1,0,−1,1: three zeros and two tie groups (|d| = 1 ×7, |d| = 2 ×2).
  const cand = [4, 5, 3, 4, 5, 4, 3, 5, 4, 4, 2, 5];
  const ref = [3, 4, 3, 2, 4, 4, 4, 3, 3, 4, 3, 4];

  it('normal approximation with Pratt zeros, tie and continuity correction', () => {
    // By hand (Python for the tail): all |d| ranked, zeros take ranks 1–3, the ones 4–10 (mid 7),
    // the twos 11–12 (mid 11.5). W+ = 5·7 + 2·11.5 = 58. E = (12·13 − 3·4)/4 = 36.
    // Var = (12·13·25 − 3·4·7)/24 − ((7³−7) + (2³−2))/48 = 159 − 7.125 = 151.875.
    // z = (|58 − 36| − 0.5)/√151.875 → p = 2·(1 − NormalDist().cdf(z)) = 0.08105490828589734
    const r = wilcoxonSignedRank(cand, ref, { method: 'normal' });
    expect(r).toMatchObject({ test: 'wilcoxon-normal', statistic: 58, ciLow: null, ciHigh: null });
    expect(r.pValue).toBeCloseTo(0.08105490828589734, 10);
  });

  it("zero method 'wilcox' drops zeros before ranking", () => {
    // Nine non-zero: ones ranks 1–7 (mid 4), twos 8–9 (mid 8.5); W+ = 37, E = 22.5,
    // Var = 9·10·19/24 − 7.125 = 64.125 → p = 0.08041321561442794 (Python, as above)
    const r = wilcoxonSignedRank(cand, ref, { method: 'normal', zeroMethod: 'wilcox' });
    expect(r.statistic).toBe(37);
    expect(r.pValue).toBeCloseTo(0.08041321561442794, 10);
  });

  it('exact conditional distribution for small n, with ties', () => {
    // Python: enumerate all 2^9 sign patterns of the nine non-zero mid-ranks and count sums ≤ / ≥ 58:
    // p = min(1, 2·min(P(S ≤ 58), P(S ≥ 58))) = 0.12109375
    const r = wilcoxonSignedRank(cand, ref);
    expect(r.test).toBe('wilcoxon-exact');
    expect(r.pValue).toBeCloseTo(0.12109375, 12);
  });

  it('exact without ties matches full enumeration: d = 1.5, −0.5, 2.5, 3.5, −1, 4, 2, 3', () => {
    // Python: ranks 3,1,5,7,2,8,4,6; W+ = 33; enumeration of 256 sign patterns → p = 10/256 = 0.0390625
    const d = [1.5, -0.5, 2.5, 3.5, -1.0, 4.0, 2.0, 3.0];
    const r = wilcoxonSignedRank(
      d,
      d.map(() => 0),
    );
    expect(r.statistic).toBe(33);
    expect(r.pValue).toBeCloseTo(0.0390625, 12);
  });

  it("'auto' switches to the normal approximation above 50 non-zero differences, and the two agree", () => {
    // d = 1..60 with every third one negative: no ties, so exact and normal describe the same statistic.
    const d = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? -(i + 1) : i + 1));
    const zeros = d.map(() => 0);
    const auto = wilcoxonSignedRank(d, zeros);
    const exact = wilcoxonSignedRank(d, zeros, { method: 'exact' });
    expect(auto.test).toBe('wilcoxon-normal');
    expect(exact.test).toBe('wilcoxon-exact');
    expect(Math.abs(auto.pValue - exact.pValue)).toBeLessThan(0.005);
  });

  it('p = 1 when every pair is tied', () => {
    expect(wilcoxonSignedRank([3, 4, 5], [3, 4, 5]).pValue).toBe(1);
  });
});

describe('clustered paired test (repeated runs)', () => {
  it('uses the cluster-robust SE of the mean difference with G − 1 df', () => {
    // Differences per case A = [1, 1], B = [0, 1], C = [0, 0], D = [1, 0]; d̄ = 0.5.
    // Residual sums 1, 0, −1, 0 → SE² = (4/3)·2/64 = 1/24, t = 2.449490, df 3.
    // Python: p = 2*(1 − tcdf(t, 3)) = 0.09172111331157762; CI 0.5 ∓ tq(0.975, 3)·SE = [−0.149614, 1.149614]
    const cand = [1, 1, 0, 1, 0, 0, 1, 0];
    const ref = [0, 0, 0, 0, 0, 0, 0, 0];
    const r = clusteredPairedTest(cand, ref, ['A', 'A', 'B', 'B', 'C', 'C', 'D', 'D']);
    expect(r).toMatchObject({ test: 'cluster-paired-t', clusters: 4, n: 8 });
    expect(r.statistic).toBeCloseTo(2.449489742783178, 10);
    expect(r.pValue).toBeCloseTo(0.09172111331157762, 9);
    expect(r.ciLow).toBeCloseTo(-0.149614131812556, 8);
    expect(r.ciHigh).toBeCloseTo(1.1496141318125561, 8);
  });
});

describe('pairing and compareScores', () => {
  const rows = (values: number[], prefix = 'case'): ScoreRow[] =>
    values.map((value, i) => ({ id: `${prefix}${i}`, value }));

  it('pairs by test-case id regardless of order and lists what is unpaired or duplicated', () => {
    const cand: ScoreRow[] = [
      { id: 'b', value: 1 },
      { id: 'a', value: 0 },
      { id: 'x', value: 1 },
      { id: 'a', value: 1 },
    ];
    const ref: ScoreRow[] = [
      { id: 'a', value: 1 },
      { id: 'b', value: 0 },
      { id: 'y', value: 0 },
    ];
    const p = pairRows(cand, ref);
    expect(p.pairs).toEqual([
      { id: 'b', repeat: 0, candidate: 1, reference: 0 },
      { id: 'a', repeat: 0, candidate: 0, reference: 1 },
    ]);
    expect(p).toMatchObject({ unmatchedCandidate: ['x'], unmatchedReference: ['y'], duplicates: ['a'] });
  });

  it('keeps repeats apart: (id, repeat) is the key, and an id containing # does not collide', () => {
    const cand: ScoreRow[] = [
      { id: 'a', repeat: 1, value: 1 },
      { id: 'a#1', value: 0 },
    ];
    const ref: ScoreRow[] = [
      { id: 'a#1', value: 1 },
      { id: 'a', repeat: 1, value: 0 },
    ];
    const p = pairRows(cand, ref);
    expect(p.pairs).toEqual([
      { id: 'a', repeat: 1, candidate: 1, reference: 0 },
      { id: 'a#1', repeat: 0, candidate: 0, reference: 1 },
    ]);
    expect(p.duplicates).toEqual([]);
  });

  it('dispatches by kind and reports the test used', () => {
    const [bc, br] = booleanPairs(8, 2, 10);
    expect(compareScores(rows(bc), rows(br), 'boolean').test).toBe('mcnemar-exact');
    expect(compareScores(rows([1, 2, 3]), rows([1, 1, 1]), 'continuous').test).toBe('paired-t');
    expect(compareScores(rows([1, 2, 3]), rows([1, 1, 1]), 'continuous', { bootstrap: true }).test).toBe(
      'paired-bootstrap',
    );
    const likert = compareScores(
      rows([4, 5, 3, 4, 5, 4, 3, 5, 4, 4, 2, 5]),
      rows([3, 4, 3, 2, 4, 4, 4, 3, 3, 4, 3, 4]),
      'likert',
    );
    expect(likert).toMatchObject({ test: 'wilcoxon-exact', ciMethod: 'paired-bootstrap', statistic: 58 });
    expect(likert.pValue).toBeCloseTo(0.12109375, 12);
    expect(likert.ciLow!).toBeLessThan(likert.delta);
    expect(likert.ciHigh!).toBeGreaterThan(likert.delta);
  });

  it('switches to the clustered test when a test case is paired more than once', () => {
    const ids = ['A', 'A', 'B', 'B', 'C', 'C', 'D', 'D'];
    const cand = [1, 1, 0, 1, 0, 0, 1, 0].map((value, i) => ({ id: ids[i], repeat: i % 2, value }));
    const ref = cand.map((r) => ({ ...r, value: 0 }));
    const r = compareScores(cand, ref, 'boolean');
    expect(r).toMatchObject({ test: 'cluster-paired-t', clusters: 4 });
    expect(r.pValue).toBeCloseTo(0.09172111331157762, 9);
  });
});

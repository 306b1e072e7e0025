/**
 * The unpaired tests against values obtained a second way: Welch's t and the Mann–Whitney p-values against
 * SciPy 1.17 (`scipy.stats.ttest_ind(equal_var=False)`, `mannwhitneyu(method='exact' | 'asymptotic')`), the
 * exact U distribution against brute-force enumeration of every split, the Hodges–Lehmann shift against the
 * median of all pairwise differences, the Moses interval by inverting the rank test, and Newcombe's hybrid score
 * interval against the values published in Newcombe (1998), Table II, method 10.
 */
import { mannWhitneyU, twoProportionTest, welchTTest } from '../../../src/shared/eval/stats/unpaired.js';
import { normalQuantile } from '../../../src/shared/eval/stats/special.js';

describe('welchTTest', () => {
  const a = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4];
  const b = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4];

  test('matches SciPy: t, p and the interval of the difference', () => {
    const r = welchTTest(a, b);
    expect(r.statistic).toBeCloseTo(-2.455356398286006, 9);
    expect(r.pValue).toBeCloseTo(0.021378001462866992, 8);
    expect(r.lower).toBeCloseTo(-3.984096267140929, 7);
    expect(r.upper).toBeCloseTo(-0.3492370661924069, 7);
    expect(r.estimate).toBeCloseTo(-2.166666666666, 9);
  });

  test('constant samples give an exact difference; too few values are refused', () => {
    expect(welchTTest([2, 2, 2], [1, 1])).toMatchObject({ estimate: 1, lower: 1, upper: 1, pValue: 0 });
    expect(() => welchTTest([1], [1, 2])).toThrow(/at least 2 values/);
  });
});

/** Every way of choosing which ranks belong to `a`: the exact two-sided p-value of U, by enumeration. */
function enumeratedPValue(a: number[], b: number[]): number {
  const all = [...a, ...b];
  const uOf = (xs: number[], ys: number[]) => {
    let u = 0;
    for (const x of xs) for (const y of ys) u += x > y ? 1 : x === y ? 0.5 : 0;
    return u;
  };
  const observed = uOf(a, b);
  const us: number[] = [];
  const pick = (start: number, chosen: number[]) => {
    if (chosen.length === a.length) {
      const rest = all.filter((_, i) => !chosen.includes(i));
      us.push(
        uOf(
          chosen.map((i) => all[i]),
          rest,
        ),
      );
      return;
    }
    for (let i = start; i < all.length; i++) pick(i + 1, [...chosen, i]);
  };
  pick(0, []);
  const lower = us.filter((u) => u <= observed).length / us.length;
  const upper = us.filter((u) => u >= observed).length / us.length;
  return Math.min(1, 2 * Math.min(lower, upper));
}

describe('mannWhitneyU', () => {
  const x = [1.83, 0.5, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.3];
  const y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.07, 3.14, 1.28];

  test('exact p-value matches SciPy and enumeration of every split', () => {
    const r = mannWhitneyU(x, y);
    expect(r.statistic).toBe(58);
    expect(r.pValue).toBeCloseTo(0.13591114767585355, 10);
    const small = [
      [3.1, 0.2, 5.5, 2.4],
      [1.1, 0.9, 4.2, 0.1, 2.2],
    ];
    expect(mannWhitneyU(small[0], small[1]).pValue).toBeCloseTo(enumeratedPValue(small[0], small[1]), 12);
  });

  test('with ties: the normal approximation with tie and continuity corrections matches SciPy', () => {
    const x2 = [1, 2, 2, 3, 3, 3, 4, 5, 6, 7, 7, 8];
    const y2 = [2, 3, 4, 4, 5, 5, 6, 6, 7, 8, 9, 9, 10];
    const r = mannWhitneyU(x2, y2);
    expect(r.statistic).toBe(47);
    expect(r.pValue).toBeCloseTo(0.09506078769552664, 10);
  });

  test('Hodges–Lehmann shift and Moses interval match the order statistics of the pairwise differences', () => {
    const r = mannWhitneyU(x, y);
    // From NumPy: the sorted 81 differences x_i − y_j have median 0.56; with C = floor(81/2 − 1.96·sqrt(81·19/12))
    // = 18 the Moses interval (Hollander & Wolfe, §4.3) is [D(18), D(64)] = [−0.37, 1.183].
    expect(r.estimate).toBeCloseTo(0.56, 12);
    expect(r.lower).toBeCloseTo(-0.37, 12);
    expect(r.upper).toBeCloseTo(1.183, 12);
    const diffs = x.flatMap((a) => y.map((b) => a - b)).sort((p, q) => p - q);
    const c = Math.floor(81 / 2 - normalQuantile(0.975) * Math.sqrt((81 * 19) / 12));
    expect([diffs[c - 1], diffs[81 - c]]).toEqual([r.lower, r.upper]);
  });

  test('large samples are thinned for the shift but keep its location', () => {
    const big = Array.from({ length: 3000 }, (_, i) => 100 + ((i * 7919) % 1000) / 10);
    const other = big.map((v) => v - 20);
    const r = mannWhitneyU(big, other);
    expect(r.estimate).toBeCloseTo(20, 0);
    expect(r.lower).toBeLessThan(20);
    expect(r.upper).toBeGreaterThan(20);
    expect(r.pValue).toBeLessThan(1e-10);
  });
});

describe('twoProportionTest', () => {
  test("Newcombe's hybrid score interval matches the published values", () => {
    const cases: [number, number, number, number, number, number][] = [
      [56, 70, 48, 80, 0.0524, 0.3339],
      [9, 10, 3, 10, 0.1705, 0.809],
      [5, 56, 0, 29, -0.0381, 0.1926],
    ];
    for (const [xa, na, xb, nb, lo, hi] of cases) {
      const r = twoProportionTest(xa, na, xb, nb);
      expect(r.lower).toBeCloseTo(lo, 4);
      expect(r.upper).toBeCloseTo(hi, 4);
      expect(r.estimate).toBeCloseTo(xa / na - xb / nb, 12);
    }
  });

  test('pooled z-test p-value', () => {
    // 56/70 vs 48/80: pooled p = 104/150, z = 0.2 / sqrt(p(1-p)(1/70 + 1/80)) = 2.65017, p = 0.0080451
    // (by hand and with scipy.stats.norm.sf).
    const r = twoProportionTest(56, 70, 48, 80);
    expect(r.statistic).toBeCloseTo(2.65017, 4);
    expect(r.pValue).toBeCloseTo(0.0080451, 6);
    expect(twoProportionTest(0, 10, 0, 20).pValue).toBe(1);
  });
});

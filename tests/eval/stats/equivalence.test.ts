/**
 * TOST against references computed a second way: the one-sided p-values from the Student t density integrated
 * numerically (Simpson's rule on the density written out from its formula, not the library's incomplete beta),
 * the interval from a bisection on that integral; values cross-checked once against scipy 1.17
 * (`ttest_1samp(d, -m, alternative='greater')`, `ttest_1samp(d, m, alternative='less')`). Size by simulation.
 */
import { equivalenceTest } from '../../../src/shared/eval/stats/equivalence.js';

/** ln Γ by the Lanczos approximation (g = 7, 9 terms): independent of special.ts's lnGamma. */
function lnGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** P(T ≤ t) for Student's t with df degrees of freedom, by Simpson's rule from 0 to |t| (symmetry). */
function tCdf(t: number, df: number): number {
  const k = Math.exp(lnGamma((df + 1) / 2) - lnGamma(df / 2)) / Math.sqrt(df * Math.PI);
  const f = (x: number) => k * Math.pow(1 + (x * x) / df, -(df + 1) / 2);
  const steps = 4000;
  const b = Math.abs(t);
  const h = b / steps;
  let s = f(0) + f(b);
  for (let i = 1; i < steps; i++) s += f(i * h) * (i % 2 ? 4 : 2);
  const half = (s * h) / 3;
  return t >= 0 ? 0.5 + half : 0.5 - half;
}

function tQuantile(p: number, df: number): number {
  let lo = 0;
  let hi = 50;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (tCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

function reference(c: number[], b: number[], margin: number, alpha: number) {
  const d = c.map((x, i) => x - b[i]);
  const n = d.length;
  const mean = d.reduce((s, x) => s + x, 0) / n;
  const sd = Math.sqrt(d.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1));
  const se = sd / Math.sqrt(n);
  const pLower = 1 - tCdf((mean + margin) / se, n - 1);
  const pUpper = tCdf((mean - margin) / se, n - 1);
  const q = tQuantile(1 - alpha, n - 1);
  return { mean, pLower, pUpper, ciLow: mean - q * se, ciHigh: mean + q * se };
}

test('p-values and the 90% interval agree with the numerically integrated t distribution', () => {
  const candidate = [0.82, 0.91, 0.77, 0.88, 0.95, 0.69, 0.84, 0.9, 0.73, 0.86, 0.8, 0.92];
  const baseline = [0.8, 0.93, 0.75, 0.9, 0.91, 0.72, 0.83, 0.87, 0.76, 0.85, 0.82, 0.9];
  for (const margin of [0.01, 0.03, 0.1]) {
    const r = equivalenceTest(candidate, baseline, margin);
    const ref = reference(candidate, baseline, margin, 0.05);
    expect(r.meanDifference).toBeCloseTo(ref.mean, 12);
    expect(r.pLower).toBeCloseTo(ref.pLower, 6);
    expect(r.pUpper).toBeCloseTo(ref.pUpper, 6);
    expect(r.ciLow).toBeCloseTo(ref.ciLow, 6);
    expect(r.ciHigh).toBeCloseTo(ref.ciHigh, 6);
    expect(r.equivalent).toBe(Math.max(ref.pLower, ref.pUpper) < 0.05);
  }
  // scipy 1.17 on the same data: margin 0.03 → pLower 0.000436166, pUpper 0.001410686 (equivalent);
  // margin 0.01 → pLower 0.055008108, pUpper 0.159657736 (not equivalent).
  expect(equivalenceTest(candidate, baseline, 0.03)).toMatchObject({ equivalent: true });
  expect(equivalenceTest(candidate, baseline, 0.03).pLower).toBeCloseTo(0.000436166, 8);
  expect(equivalenceTest(candidate, baseline, 0.03).pUpper).toBeCloseTo(0.001410686, 8);
  expect(equivalenceTest(candidate, baseline, 0.01).pLower).toBeCloseTo(0.055008108, 8);
  expect(equivalenceTest(candidate, baseline, 0.01).pUpper).toBeCloseTo(0.159657736, 8);
  expect(equivalenceTest(candidate, baseline, 0.01).equivalent).toBe(false);
});

test('identical scores are equivalent for any margin; a constant shift beyond the margin is not', () => {
  const same = [1, 0, 1, 1, 0, 1];
  expect(equivalenceTest(same, same, 0.05)).toMatchObject({ equivalent: true, ciLow: 0, ciHigh: 0 });
  const shifted = same.map((x) => x - 0.2);
  expect(equivalenceTest(shifted, same, 0.1).equivalent).toBe(false);
  expect(equivalenceTest([1], [1], 0.1)).toMatchObject({ equivalent: false });
});

test('size: when the true difference sits on the margin, equivalence is declared at most α of the time', () => {
  // A seeded LCG and Box–Muller: 2,000 studies of 40 lines whose true mean difference is exactly the margin.
  let seed = 12345;
  const uniform = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) + 0.5) / 2 ** 31;
  const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  const margin = 0.1;
  let declared = 0;
  const studies = 2000;
  for (let s = 0; s < studies; s++) {
    const base = Array.from({ length: 40 }, () => normal());
    const cand = base.map((b) => b + margin + 0.3 * normal());
    if (equivalenceTest(cand, base, margin).equivalent) declared++;
  }
  // Exactly on the boundary the rate is α = 0.05; 3 binomial standard errors (0.0049) above it is 0.0647.
  expect(declared / studies).toBeLessThan(0.0647);
  expect(declared / studies).toBeGreaterThan(0.03);
});

test('clustered: lines of one conversation count once', () => {
  const c = [1, 1, 1, 0, 0, 0, 1, 1];
  const b = [1, 1, 1, 1, 1, 1, 1, 1];
  const clustered = equivalenceTest(c, b, 0.5, { clusterIds: ['a', 'a', 'a', 'b', 'b', 'b', 'c', 'd'] });
  const plain = equivalenceTest(c, b, 0.5);
  expect(clustered.df).toBe(3);
  expect(clustered.standardError).toBeGreaterThan(plain.standardError);
});

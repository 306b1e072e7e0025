/**
 * Minimum detectable effect, sample sizes, the rule of three and pass@k / consistency, each checked against a
 * value computed a second way: Python's statistics.NormalDist for the quantiles, Simpson integration of the
 * normal density for the power at the MDE, the binomial probability of zero failures for the rule of three, and
 * exact enumeration of the k-subsets for pass@k.
 */
import {
  bernoulliSd,
  minimumDetectableEffect,
  pairedBernoulliSd,
  powerMultiplier,
  sampleSizeFor,
  standardErrorFromInterval,
  zeroFailureBound,
} from '../../../src/shared/eval/stats/power.js';
import { consistency, meanPassAtK, passAtK } from '../../../src/shared/eval/stats/repeat.js';

/** Standard normal CDF by composite Simpson integration of the density from −12 (independent of special.ts). */
function phiBySimpson(x: number): number {
  const a = -12;
  const steps = 20000;
  const h = (x - a) / steps;
  const f = (t: number) => Math.exp((-t * t) / 2) / Math.sqrt(2 * Math.PI);
  let s = f(a) + f(x);
  for (let i = 1; i < steps; i++) s += f(a + i * h) * (i % 2 ? 4 : 2);
  return (s * h) / 3;
}

describe('minimum detectable effect', () => {
  test('z(0.975) + z(0.8) matches Python statistics.NormalDist', () => {
    // NormalDist().inv_cdf(0.975) + NormalDist().inv_cdf(0.8)
    expect(powerMultiplier()).toBeCloseTo(2.801585218112968, 10);
  });

  test('a true difference of one MDE is detected with 80% power (power by numeric integration)', () => {
    const se = 0.037;
    const mde = minimumDetectableEffect(se);
    const z = 1.959963984540054;
    // Power of the two-sided z-test when the true shift is mde: P(Z > z − mde/se) + P(Z < −z − mde/se).
    const power = 1 - phiBySimpson(z - mde / se) + phiBySimpson(-z - mde / se);
    expect(power).toBeGreaterThan(0.8);
    expect(power).toBeLessThan(0.8 + 1e-4); // the far tail adds ~1e-5
  });

  test('recovers the standard error from a t interval and from a normal interval', () => {
    expect(standardErrorFromInterval(-1.96 * 0.1, 1.96 * 0.1, 0.95)).toBeCloseTo(0.1, 3);
    // t(0.975, 9) = 2.2621571627409915 (scipy.stats.t.ppf)
    expect(standardErrorFromInterval(1 - 2.2621571627409915 * 0.2, 1 + 2.2621571627409915 * 0.2, 0.95, 9)).toBeCloseTo(
      0.2,
      9,
    );
  });

  test('with df the t quantiles are used and the MDE is larger', () => {
    expect(minimumDetectableEffect(1, { df: 9 })).toBeGreaterThan(minimumDetectableEffect(1));
    expect(minimumDetectableEffect(1, { df: 1e6 })).toBeCloseTo(minimumDetectableEffect(1), 4);
  });
});

describe('sample size', () => {
  test('δ = 0.5 sd at α = 0.05, power 0.8 needs 32 lines (31.3955 rounded up; G*Power z-test gives the same)', () => {
    expect(sampleSizeFor({ difference: 0.5, sd: 1 })).toEqual({ lines: 32, clusters: 32, designEffect: 1 });
  });

  test('clusters of 5 with ICC 0.1 cost a design effect of 1.4: 43.95 lines → 9 clusters of 5', () => {
    const s = sampleSizeFor({ difference: 0.5, sd: 1, clusterSize: 5, icc: 0.1 });
    expect(s.designEffect).toBeCloseTo(1.4, 12);
    expect(s).toMatchObject({ clusters: 9, lines: 45 });
  });

  test('paired pass/fail scores: the sd of the difference from the two rates', () => {
    expect(pairedBernoulliSd(0.8, 0.85)).toBeCloseTo(Math.sqrt(0.16 + 0.1275), 12);
    expect(pairedBernoulliSd(0.8, 0.8, 1)).toBe(0);
    expect(bernoulliSd(0.5)).toBe(0.5);
  });

  test('bad inputs are refused with what was expected', () => {
    expect(() => sampleSizeFor({ difference: 0, sd: 1 })).toThrow(/non-zero/);
    expect(() => sampleSizeFor({ difference: 0.1, sd: 1, icc: 2 })).toThrow(/icc/);
    expect(() => powerMultiplier({ power: 1 })).toThrow(/power/);
  });
});

describe('rule of three', () => {
  test('3/n and the exact bound; (1 − exact)^n is the 5% chance of no failure', () => {
    const b = zeroFailureBound(100);
    expect(b.ruleOfThree).toBeCloseTo(0.029957322735539908, 14); // −ln(0.05)/100
    expect(b.exact).toBeCloseTo(0.029513049607039932, 14); // 1 − 0.05^(1/100)
    // Second method: the binomial probability of 0 failures in 100 lines at the bound.
    expect(Math.pow(1 - b.exact, 100)).toBeCloseTo(0.05, 12);
  });
});

describe('pass@k and consistency', () => {
  /** pass@k by enumerating every k-subset of the n samples. */
  function passAtKByEnumeration(scores: number[], k: number): number {
    let hits = 0;
    let total = 0;
    const walk = (start: number, picked: number[]) => {
      if (picked.length === k) {
        total++;
        if (picked.some((i) => scores[i] === 1)) hits++;
        return;
      }
      for (let i = start; i < scores.length; i++) walk(i + 1, [...picked, i]);
    };
    walk(0, []);
    return hits / total;
  }

  test.each([
    [[1, 0, 0, 1, 0], 2],
    [[0, 0, 0, 0, 0, 0, 1], 3],
    [[1, 1, 1, 0, 0, 0, 0, 0, 0, 0], 4],
    [[0, 0, 0], 1],
  ])('pass@k of %j with k = %i equals exact enumeration', (scores, k) => {
    const c = scores.reduce((a, b) => a + b, 0);
    expect(passAtK(scores.length, c, k)).toBeCloseTo(passAtKByEnumeration(scores, k), 12);
  });

  test('mean pass@k over lines; pass@1 is the pass rate', () => {
    const lines = [
      [1, 0, 0],
      [1, 1, 1],
      [0, 0, 0],
    ];
    expect(meanPassAtK(lines, 1)).toBeCloseTo((1 / 3 + 1 + 0) / 3, 12);
    expect(meanPassAtK(lines, 3)).toBeCloseTo(2 / 3, 12);
  });

  test('unanimous share and mean pairwise agreement', () => {
    // Line 1: a,a,a → 3/3 pairs agree; line 2: a,b,a → 1 of 3 pairs; line 3: x,y,z → 0 of 3.
    const c = consistency([
      ['a', 'a', 'a'],
      ['a', 'b', 'a'],
      ['x', 'y', 'z'],
    ]);
    expect(c).toEqual({ unanimous: 1, unanimousShare: 1 / 3, pairwiseAgreement: (1 + 1 / 3 + 0) / 3, lines: 3 });
  });
});

import {
  bootstrapInterval,
  clusterBootstrapInterval,
  clusterRobustInterval,
  clusterRobustStandardError,
  summarize,
  tInterval,
  wilsonInterval,
} from '../../../src/shared/eval/stats/index.js';

/*
 * Reference values: closed forms evaluated with Python 3 stdlib (one-off script), z from
 * statistics.NormalDist().inv_cdf(0.975) = 1.9599639845400536:
 *
 *   def wilson(k, n, z):                       # Wilson (1927)
 *       p = k/n; d = 1 + z*z/n
 *       c = (p + z*z/(2*n))/d; h = z/d*math.sqrt(p*(1-p)/n + z*z/(4*n*n))
 *       return c-h, c+h
 *   def wilson_cc(k, n, z):                    # Newcombe (1998) method 4
 *       p = k/n; den = 2*(n+z*z)
 *       lo = (2*n*p + z*z - 1 - z*math.sqrt(z*z - 2 - 1/n + 4*p*(n*(1-p)+1)))/den
 *       hi = (2*n*p + z*z + 1 + z*math.sqrt(z*z + 2 - 1/n + 4*p*(n*(1-p)-1)))/den
 *       return max(0,lo), min(1,hi)
 */
describe('Wilson score interval (boolean scores)', () => {
  it('7 of 10 at 95% is [0.3968, 0.8922]', () => {
    const s = wilsonInterval(7, 10);
    expect(s).toMatchObject({ n: 10, mean: 0.7, method: 'wilson', level: 0.95 });
    expect(s.lower).toBeCloseTo(0.39677814746114537, 10);
    expect(s.upper).toBeCloseTo(0.8922087325936989, 10);
  });

  it('0 of 20 keeps a non-zero upper bound (where the Wald interval collapses to [0, 0])', () => {
    const s = wilsonInterval(0, 20);
    expect(s.lower).toBeCloseTo(0, 12);
    expect(s.upper).toBeCloseTo(0.1611251580528193, 10);
  });

  it('honours another level: 45 of 50 at 90% (z = inv_cdf(0.95))', () => {
    const s = wilsonInterval(45, 50, { level: 0.9 });
    expect(s.lower).toBeCloseTo(0.8084624858484292, 10);
    expect(s.upper).toBeCloseTo(0.9504709655225548, 10);
  });

  it('continuity-corrected form (as Foundry agent-evals prints) is wider: 7/10 → [0.3537, 0.9191]', () => {
    const s = wilsonInterval(7, 10, { continuityCorrection: true });
    expect(s.method).toBe('wilson-cc');
    expect(s.lower).toBeCloseTo(0.3536707235111688, 10);
    expect(s.upper).toBeCloseTo(0.9190521757900054, 10);
  });

  it('has no bounds for zero lines, and refuses impossible counts', () => {
    expect(wilsonInterval(0, 0)).toMatchObject({ n: 0, lower: NaN, upper: NaN });
    expect(() => wilsonInterval(11, 10)).toThrow(/0 <= successes <= n/);
    expect(() => wilsonInterval(1, 10, { level: 95 })).toThrow(/level must be between 0 and 1/);
  });
});

describe('t-interval (continuous scores)', () => {
  it('mean ± t(0.975, 9)·s/√n for ten scores', () => {
    // Python: statistics.mean / statistics.stdev of the data, t(0.975, 9) = 2.262157 from the t table:
    // mean 0.676, interval [0.6224463560196969, 0.7295536439803032] (to the table's 6 digits).
    const s = tInterval([0.62, 0.71, 0.55, 0.8, 0.67, 0.74, 0.59, 0.69, 0.73, 0.66]);
    expect(s.mean).toBeCloseTo(0.676, 12);
    expect(s.lower).toBeCloseTo(0.6224463560196969, 6);
    expect(s.upper).toBeCloseTo(0.7295536439803032, 6);
    expect(s.method).toBe('t');
  });

  it('gives no bounds for a single score', () => {
    expect(tInterval([0.5])).toMatchObject({ n: 1, mean: 0.5, lower: NaN, upper: NaN });
  });

  it('names the offending line when a score is not a number', () => {
    expect(() => tInterval([1, NaN])).toThrow(/value #2 is NaN/);
  });
});

describe('percentile bootstrap', () => {
  const likert = [3, 4, 4, 5, 2, 4, 3, 5, 4, 1, 4, 5];

  it('is reproducible from its seed, and the seed matters', () => {
    const a = bootstrapInterval(likert, { seed: 7 });
    const b = bootstrapInterval(likert, { seed: 7 });
    expect(b).toEqual(a);
    const c = bootstrapInterval(likert, { seed: 8, resamples: 500 });
    expect([c.lower, c.upper]).not.toEqual([a.lower, a.upper]);
  });

  it('matches an independent Python re-implementation of the documented algorithm', () => {
    // Python 3 (one-off): Mulberry32 with seed 7; each of 2,000 resamples draws n indices
    // floor(u*n); bounds are the type-7 quantiles at 0.025 / 0.975 of the sorted means:
    //   def mulberry32(seed):
    //       state = seed & 0xFFFFFFFF
    //       def imul(a, b): return (a * b) & 0xFFFFFFFF
    //       def nxt():
    //           nonlocal state
    //           state = (state + 0x6D2B79F5) & 0xFFFFFFFF
    //           t = state
    //           t = imul(t ^ (t >> 15), t | 1)
    //           t ^= (t + imul(t ^ (t >> 7), t | 61)) & 0xFFFFFFFF
    //           return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296
    //       return nxt
    // → (2.9166666666666665, 4.25)
    const s = bootstrapInterval(likert, { seed: 7 });
    expect(s.lower).toBeCloseTo(2.9166666666666665, 12);
    expect(s.upper).toBeCloseTo(4.25, 12);
    expect(s.mean).toBeCloseTo(3.6666666666666665, 12);
  });
});

describe('clustered intervals (repeated runs of a test case)', () => {
  // Test cases A = [1, 1], B = [0, 0], C = [1, 0]; mean 0.5.
  // By hand: residual sums per case S_A = 1, S_B = −1, S_C = 0, so Σ S² = 2 and
  // SE² = (G/(G−1)) · Σ S² / N² = 1.5 · 2 / 36 = 1/12 → SE = 0.288675; without the factor √(1/18) = 0.235702.
  // The naive SE treating six lines as independent is √(0.3/6) = 0.223607 — too small.
  const values = [1, 1, 0, 0, 1, 0];
  const ids = ['A', 'A', 'B', 'B', 'C', 'C'];

  it('cluster-robust SE of the mean matches the hand computation', () => {
    const r = clusterRobustStandardError(values, ids);
    expect(r).toMatchObject({ n: 6, mean: 0.5, clusters: 3 });
    expect(r.standardError).toBeCloseTo(Math.sqrt(1 / 12), 12);
    expect(clusterRobustStandardError(values, ids, { smallSampleCorrection: false }).standardError).toBeCloseTo(
      Math.sqrt(1 / 18),
      12,
    );
  });

  it('the clustered t-interval uses G − 1 = 2 df: 0.5 ± 4.302653 · 0.288675', () => {
    // t(0.975, 2) = 4.302653 (t table)
    const s = clusterRobustInterval(values, ids);
    expect(s.method).toBe('cluster-t');
    expect(s.lower).toBeCloseTo(0.5 - 4.302653 * Math.sqrt(1 / 12), 5);
    expect(s.upper).toBeCloseTo(0.5 + 4.302653 * Math.sqrt(1 / 12), 5);
  });

  it('cluster bootstrap resamples whole test cases, reproducibly', () => {
    const a = clusterBootstrapInterval(values, ids, { seed: 3 });
    expect(a).toEqual(clusterBootstrapInterval(values, ids, { seed: 3 }));
    expect(a).toMatchObject({ method: 'cluster-bootstrap', clusters: 3, mean: 0.5 });
    // Every resample is a mix of the case means 1, 0 and 0.5, so the bounds are among multiples of 1/6.
    expect(Math.round(a.lower * 6)).toBeCloseTo(a.lower * 6, 9);
    expect(a.lower).toBeGreaterThanOrEqual(0);
    expect(a.upper).toBeLessThanOrEqual(1);
  });

  it('refuses mismatched ids', () => {
    expect(() => clusterRobustStandardError([1, 2], ['a'])).toThrow(/2 values but 1 cluster ids/);
  });
});

describe('summarize picks the method from the score kind', () => {
  it('boolean → Wilson, accepting true/false', () => {
    const s = summarize([true, true, false, true, true, false, true, true, false, true], 'boolean');
    expect(s.method).toBe('wilson');
    expect(s.lower).toBeCloseTo(0.39677814746114537, 10);
  });

  it('boolean rejects a score that is not 0/1', () => {
    expect(() => summarize([1, 0, 0.5], 'boolean')).toThrow(/value #3 is 0.5; boolean scores must be 0\/1/);
  });

  it('continuous, symmetric → t; small and skewed → bootstrap; large → t', () => {
    expect(summarize([0.62, 0.71, 0.55, 0.8, 0.67, 0.74, 0.59, 0.69, 0.73, 0.66], 'continuous').method).toBe('t');
    const skewed = [0.1, 0.1, 0.2, 0.1, 0.15, 0.1, 0.2, 0.1, 3.5, 0.1]; // one very slow line
    const small = summarize(skewed, 'continuous');
    expect(small.method).toBe('bootstrap');
    // The bootstrap interval follows the skew: it reaches further above the mean than below.
    expect(small.upper - small.mean).toBeGreaterThan(small.mean - small.lower);
    expect(summarize([...skewed, ...skewed, ...skewed], 'continuous').method).toBe('t');
  });

  it('likert → bootstrap; with repeated test cases → cluster methods', () => {
    expect(summarize([3, 4, 5, 4], 'likert').method).toBe('bootstrap');
    expect(summarize([1, 1, 0, 0, 1, 0], 'boolean', { clusterIds: ['A', 'A', 'B', 'B', 'C', 'C'] })).toMatchObject({
      method: 'cluster-t',
      lower: 0,
    });
    expect(summarize([3, 4, 2, 2, 5, 4], 'likert', { clusterIds: ['A', 'A', 'B', 'B', 'C', 'C'] }).method).toBe(
      'cluster-bootstrap',
    );
    // Unique ids mean no repeats: the plain method applies.
    expect(summarize([1, 0, 1], 'boolean', { clusterIds: ['A', 'B', 'C'] }).method).toBe('wilson');
  });

  it('rejects an unknown kind', () => {
    expect(() => summarize([1], 'ordinal' as never)).toThrow(/unknown score kind 'ordinal'/);
  });
});

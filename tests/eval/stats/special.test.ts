import { normalQuantile, studentTCdf, studentTQuantile } from '../../../src/shared/eval/stats/index.js';
import { chiSquareSurvival, normalCdf } from '../../../src/shared/eval/stats/special.js';

describe('distributions behind the intervals and p-values', () => {
  // Textbook t tables (e.g. NIST/SEMATECH e-Handbook §1.3.6.7.2) give these to 3–6 decimals.
  it.each([
    [0.975, 9, 2.262157],
    [0.975, 1, 12.706205],
    [0.995, 2, 9.924843],
    [0.95, 30, 1.697261],
  ])('t quantile(%p, df=%p) matches the t table: %p', (p, df, expected) => {
    expect(studentTQuantile(p, df)).toBeCloseTo(expected, 5);
    expect(studentTQuantile(1 - p, df)).toBeCloseTo(-expected, 5);
  });

  // Cross-check by numeric integration (Python 3 stdlib, /tmp one-off script):
  //   tpdf(x,v) = exp(lgamma((v+1)/2)-lgamma(v/2))/sqrt(v*pi)*(1+x*x/v)**(-(v+1)/2)
  //   tcdf(x,v) = 0.5 + Simpson's rule of tpdf on [0, x] with 20,000 intervals
  //   tq(p,v)   = bisection of tcdf on [0, 50], 60 steps
  // gave tq(0.99, 4) = 3.746947387979244, tq(0.95, 3) = 2.3533634348018317, tq(0.975, 29) = 2.0452296421328064.
  it.each([
    [0.99, 4, 3.746947387979244],
    [0.95, 3, 2.3533634348018317],
    [0.975, 29, 2.0452296421328064],
  ])('t quantile(%p, df=%p) matches numeric integration of the t density', (p, df, expected) => {
    expect(studentTQuantile(p, df)).toBeCloseTo(expected, 9);
    expect(studentTCdf(expected, df)).toBeCloseTo(p, 9);
  });

  it('approaches the normal quantile as df grows', () => {
    // Python: statistics.NormalDist().inv_cdf(0.975) = 1.959963984540054
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 12);
    expect(studentTQuantile(0.975, 1e7)).toBeCloseTo(1.959963984540054, 5);
  });

  it('keeps accuracy in the far tails', () => {
    // Python: statistics.NormalDist().cdf(-6) = 9.865876450376946e-10 (relative check, not absolute)
    expect(normalCdf(-6) / 9.865876450376946e-10).toBeCloseTo(1, 8);
    // chi-square(1) critical value 3.841459 at 0.05 (any chi-square table); survival via erfc in Python:
    // math.erfc(math.sqrt(3.841458820694124/2)) = 0.05
    expect(chiSquareSurvival(3.841458820694124, 1)).toBeCloseTo(0.05, 12);
  });

  it('rejects impossible arguments with a message naming the argument', () => {
    expect(() => studentTQuantile(1.2, 5)).toThrow(/p must be in \[0, 1\]/);
    expect(() => studentTQuantile(0.5, 0)).toThrow(/df must be > 0/);
  });
});

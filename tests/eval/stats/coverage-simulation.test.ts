/**
 * Coverage of the 95% intervals the report prints, by simulation with fixed seeds: 2,000 simulated evaluations
 * each, the true mean known by construction. The share of intervals holding it must lie in 93–97% (the binomial
 * standard error of a share near 95% over 2,000 draws is 0.49%, so this is ±4 standard errors).
 * With repetition (`repeat: 5`, each line answered five times, clustered by line) the naive interval that treats
 * the 500 answers as independent is shown to under-cover, which is why the clustered one is used.
 */
import { summarize, wilsonInterval } from '../../../src/shared/eval/stats/index.js';
import { createRandom, type Random } from '../../../src/shared/eval/stats/random.js';

const SIMULATIONS = 2000;

function coverage(simulate: (random: Random) => { lower: number; upper: number }, truth: number, seed: number) {
  const random = createRandom(seed);
  let covered = 0;
  for (let s = 0; s < SIMULATIONS; s++) {
    const { lower, upper } = simulate(random);
    if (lower <= truth && truth <= upper) covered++;
  }
  return covered / SIMULATIONS;
}

/** A standard normal draw (Box–Muller). */
function gaussian(random: Random): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

describe('95% intervals cover the true mean 93–97% of the time', () => {
  test('independent pass/fail lines (Wilson), 200 lines at p = 0.7', () => {
    const c = coverage(
      (random) => {
        const values = Array.from({ length: 200 }, () => (random() < 0.7 ? 1 : 0));
        return summarize(values, 'boolean');
      },
      0.7,
      1,
    );
    expect(c).toBeGreaterThanOrEqual(0.93);
    expect(c).toBeLessThanOrEqual(0.97);
  });

  test('independent continuous lines (t), 60 lines of N(0.4, 0.2²)', () => {
    const c = coverage(
      (random) =>
        summarize(
          Array.from({ length: 60 }, () => 0.4 + 0.2 * gaussian(random)),
          'continuous',
        ),
      0.4,
      2,
    );
    expect(c).toBeGreaterThanOrEqual(0.93);
    expect(c).toBeLessThanOrEqual(0.97);
  });

  // Repetition: 100 lines, each answered K = 5 times; line i has its own pass rate p_i ~ Uniform(0, 1), so the
  // five answers of one line move together (intra-line correlation 1/3) and the true mean is E[p_i] = 0.5.
  const LINES = 100;
  const K = 5;
  const byLine = Array.from({ length: LINES * K }, (_, j) => Math.floor(j / K));
  function repeated(random: Random): number[] {
    const values: number[] = [];
    for (let i = 0; i < LINES; i++) {
      const p = random();
      for (let k = 0; k < K; k++) values.push(random() < p ? 1 : 0);
    }
    return values;
  }

  test('repeat: 5, pass/fail, clustered by line (cluster-robust t)', () => {
    const c = coverage((random) => summarize(repeated(random), 'boolean', { clusterIds: byLine }), 0.5, 3);
    expect(c).toBeGreaterThanOrEqual(0.93);
    expect(c).toBeLessThanOrEqual(0.97);
  });

  test('repeat: 5, the naive interval over 500 "independent" answers under-covers', () => {
    const c = coverage(
      (random) => {
        const v = repeated(random);
        return wilsonInterval(
          v.reduce((a, b) => a + b, 0),
          v.length,
        );
      },
      0.5,
      3,
    );
    expect(c).toBeLessThan(0.85); // design effect 1 + 4/3: nominal 95% becomes about 83%
  });

  test('clustered by a dataset column: 60 conversations of 4 turns, continuous scores with a conversation effect', () => {
    const ids = Array.from({ length: 240 }, (_, j) => `conversation-${Math.floor(j / 4)}`);
    const c = coverage(
      (random) => {
        const values: number[] = [];
        for (let g = 0; g < 60; g++) {
          const effect = 0.3 * gaussian(random);
          for (let t = 0; t < 4; t++) values.push(0.6 + effect + 0.2 * gaussian(random));
        }
        return summarize(values, 'continuous', { clusterIds: ids });
      },
      0.6,
      4,
    );
    expect(c).toBeGreaterThanOrEqual(0.93);
    expect(c).toBeLessThanOrEqual(0.97);
  });
});

/**
 * Anytime-valid confidence sequences and early stopping, by simulation with fixed seeds.
 *
 * - Time-uniform coverage: over whole paths of 400 lines (1,000 paths), the share of paths where the sequence EVER excludes
 *   the true mean stays under α = 5%; a fixed-n 95% interval checked after every line is shown to miss far more
 *   often (that is why early stopping cannot use the ordinary interval).
 * - Early stopping of a gate "mean ≥ 0.8" over a 2,000-line dataset: the share of wrong decisions (deciding pass
 *   when the true rate is below 0.8, or fail when it is above) stays under α, and the mean number of lines used
 *   is reported for clear and borderline cases.
 */
import { ConfidenceSequence, type SequenceMethod } from '../../../src/shared/eval/stats/confidence-sequence.js';
import { EarlyStop, seededOrder } from '../../../src/shared/eval/stats/early-stop.js';
import { wilsonInterval } from '../../../src/shared/eval/stats/index.js';
import { createRandom } from '../../../src/shared/eval/stats/random.js';

const ALPHA = 0.05;

describe('confidence sequences hold the true mean at every line at once', () => {
  test.each<[SequenceMethod, number, number]>([
    ['betting', 0.3, 11],
    ['betting', 0.9, 12],
    ['empirical-bernstein', 0.3, 13],
  ])('%s, Bernoulli(%f): paths ever missing the mean < α', (method, p, seed) => {
    const random = createRandom(seed);
    const paths = 1000;
    let missed = 0;
    let finalWidth = 0;
    for (let s = 0; s < paths; s++) {
      const cs = new ConfidenceSequence({ alpha: ALPHA, method });
      let miss = false;
      for (let t = 0; t < 400; t++) {
        cs.push(random() < p ? 1 : 0);
        const st = cs.state();
        if (st.lower > p || st.upper < p) miss = true;
      }
      if (miss) missed++;
      finalWidth += cs.state().upper - cs.state().lower;
    }
    expect(missed / paths).toBeLessThan(ALPHA);
    // The sequence still narrows usefully: at 400 lines within ~2.5× a fixed-n interval's width (≈ 0.09 at p = 0.3).
    expect(finalWidth / paths).toBeLessThan(method === 'betting' ? 0.22 : 0.3);
  });

  test('a fixed-n 95% interval checked after every line misses far more than 5% of paths', () => {
    const random = createRandom(14);
    const paths = 100;
    let missed = 0;
    for (let s = 0; s < paths; s++) {
      let k = 0;
      let miss = false;
      for (let t = 1; t <= 600; t++) {
        k += random() < 0.3 ? 1 : 0;
        if (t >= 20) {
          const w = wilsonInterval(k, t);
          if (w.lower > 0.3 || w.upper < 0.3) miss = true;
        }
      }
      if (miss) missed++;
    }
    expect(missed / paths).toBeGreaterThan(0.2);
  });

  test('scores outside the declared range are refused', () => {
    const cs = new ConfidenceSequence({ low: 0, high: 1 });
    expect(() => cs.push(1.5)).toThrow(/outside \[0, 1\]/);
    const wide = new ConfidenceSequence({ low: -1, high: 1 });
    wide.push(-1);
    expect(wide.state().lower).toBeGreaterThanOrEqual(-1);
  });
});

describe('early stopping of a gate "pass rate ≥ 0.8" on 2,000 lines', () => {
  const N = 2000;
  const MIN = 0.8;

  function simulate(p: number, runs: number, seed: number) {
    const random = createRandom(seed);
    let wrong = 0;
    let linesUsed = 0;
    let undecided = 0;
    let disagreeWithFullRun = 0;
    for (let r = 0; r < runs; r++) {
      const dataset = Array.from({ length: N }, (): number => (random() < p ? 1 : 0));
      const fullRunPasses = dataset.reduce((a, b) => a + b, 0) / N >= MIN;
      const stop = new EarlyStop([{ name: 'accuracy ≥ 0.8', min: MIN, low: 0, high: 1 }], { alpha: ALPHA });
      let used = N;
      for (const line of seededOrder(N, 1000 + r)) {
        stop.observe(0, dataset[line]);
        if (stop.decided()) {
          used = stop.status()[0].n;
          break;
        }
      }
      const decision = stop.status()[0].decision;
      if (decision === 'open') undecided++;
      // Undecided after every line: the full run's verdict stands, so only a decided gate can be wrong here.
      if ((decision === 'pass' && p < MIN) || (decision === 'fail' && p >= MIN)) wrong++;
      if (decision !== 'open' && (decision === 'pass') !== fullRunPasses) disagreeWithFullRun++;
      linesUsed += used;
    }
    return { wrong: wrong / runs, meanLines: linesUsed / runs, undecided: undecided / runs, disagreeWithFullRun };
  }

  const figures: string[] = [];
  afterAll(() => {
    // The figures quoted in the documentation.
    console.log(`early stop, alpha = ${ALPHA}, ${N} lines, gate ≥ ${MIN}:\n${figures.join('\n')}`);
  });

  test.each([
    ['clear pass', 0.95, 100, 21],
    ['clear fail', 0.6, 100, 22],
    ['borderline pass', 0.84, 60, 23],
    ['borderline fail', 0.77, 60, 24],
  ])('%s (true rate %f): wrong decisions < α', (label, p, runs, seed) => {
    const r = simulate(p, runs, seed);
    figures.push(
      `  ${label} (p = ${p}): wrong ${(r.wrong * 100).toFixed(1)}%, mean lines ${r.meanLines.toFixed(0)}, undecided ${(r.undecided * 100).toFixed(0)}%`,
    );
    expect(r.wrong).toBeLessThan(ALPHA);
    if (label.startsWith('clear')) {
      expect(r.meanLines).toBeLessThan(300);
      expect(r.undecided).toBe(0);
    }
  });

  test('the status says how many lines decided it and why', () => {
    const stop = new EarlyStop([{ name: 'accuracy', min: 0.5, low: 0, high: 1 }], { alpha: ALPHA, minLines: 5 });
    for (let i = 0; i < 60 && !stop.decided(); i++) stop.observe(0, 1);
    const [s] = stop.status();
    expect(s.decision).toBe('pass');
    expect(s.reason).toMatch(
      new RegExp(`95% confidence sequence \\[0\\.\\d+, 1\\.000\\] after ${s.n} lines lies within ≥ 0\\.5`),
    );
  });

  test('the seeded order is a permutation and the same for the same seed (a resumed run replays it)', () => {
    const a = seededOrder(1000, 7);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(seededOrder(1000, 7)).toEqual(a);
    expect(seededOrder(1000, 8)).not.toEqual(a);
  });
});

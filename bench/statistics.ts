/**
 * Simulation figures of the statistics (fixed seeds, seconds to run): coverage of the 95% intervals (independent,
 * clustered, repeated), time-uniform miss rate of the confidence sequences, and early stopping of a gate
 * (wrong decisions and lines used). The tests under tests/eval/stats assert the same properties on smaller runs.
 *
 *   npx tsx bench/statistics.ts
 */
import { ConfidenceSequence, type SequenceMethod } from '../src/shared/eval/stats/confidence-sequence.js';
import { EarlyStop, seededOrder } from '../src/shared/eval/stats/early-stop.js';
import { summarize, wilsonInterval } from '../src/shared/eval/stats/index.js';
import { createRandom, type Random } from '../src/shared/eval/stats/random.js';

const gaussian = (random: Random) => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());

function coverage(label: string, make: (random: Random) => { lower: number; upper: number }, truth: number) {
  const random = createRandom(1);
  let covered = 0;
  const runs = 2000;
  for (let s = 0; s < runs; s++) {
    const { lower, upper } = make(random);
    if (lower <= truth && truth <= upper) covered++;
  }
  console.log(`| ${label} | ${((covered / runs) * 100).toFixed(1)}% |`);
}

console.log('## Coverage of 95% intervals (2,000 simulated evaluations each)\n\n| case | coverage |\n|---|---:|');
coverage(
  '200 independent pass/fail lines, p = 0.7 (Wilson)',
  (r) =>
    summarize(
      Array.from({ length: 200 }, () => (r() < 0.7 ? 1 : 0)),
      'boolean',
    ),
  0.7,
);
coverage(
  '60 continuous lines N(0.4, 0.2²) (t)',
  (r) =>
    summarize(
      Array.from({ length: 60 }, () => 0.4 + 0.2 * gaussian(r)),
      'continuous',
    ),
  0.4,
);
const byLine = Array.from({ length: 500 }, (_, j) => Math.floor(j / 5));
const repeated = (r: Random) => {
  const v: number[] = [];
  for (let i = 0; i < 100; i++) {
    const p = r();
    for (let k = 0; k < 5; k++) v.push(r() < p ? 1 : 0);
  }
  return v;
};
coverage(
  'repeat: 5 over 100 lines, clustered by line (cluster-robust t)',
  (r) => summarize(repeated(r), 'boolean', { clusterIds: byLine }),
  0.5,
);
coverage(
  'repeat: 5 over 100 lines, treated as 500 independent (Wilson)',
  (r) => {
    const v = repeated(r);
    return wilsonInterval(
      v.reduce((a, b) => a + b, 0),
      v.length,
    );
  },
  0.5,
);
const conv = Array.from({ length: 240 }, (_, j) => Math.floor(j / 4));
coverage(
  '60 conversations × 4 turns, cluster_by conversation (cluster-robust t)',
  (r) => {
    const v: number[] = [];
    for (let g = 0; g < 60; g++) {
      const e = 0.3 * gaussian(r);
      for (let t = 0; t < 4; t++) v.push(0.6 + e + 0.2 * gaussian(r));
    }
    return summarize(v, 'continuous', { clusterIds: conv });
  },
  0.6,
);

console.log(
  '\n## Confidence sequences: paths (2,000 × 1,000 lines) that ever miss the mean, α = 5%\n\n| method | p | ever missed | mean width at 1,000 |\n|---|---:|---:|---:|',
);
for (const [method, p] of [
  ['betting', 0.3],
  ['betting', 0.9],
  ['empirical-bernstein', 0.3],
] as [SequenceMethod, number][]) {
  const random = createRandom(11);
  let missed = 0;
  let width = 0;
  for (let s = 0; s < 2000; s++) {
    const cs = new ConfidenceSequence({ method });
    let miss = false;
    for (let t = 0; t < 1000; t++) {
      cs.push(random() < p ? 1 : 0);
      const st = cs.state();
      if (st.lower > p || st.upper < p) miss = true;
    }
    if (miss) missed++;
    width += cs.state().upper - cs.state().lower;
  }
  console.log(`| ${method} | ${p} | ${((missed / 2000) * 100).toFixed(1)}% | ${(width / 2000).toFixed(3)} |`);
}

console.log(
  '\n## Early stopping of a gate "pass rate ≥ 0.8" on 2,000 lines, α = 5% (500 runs each)\n\n| true rate | wrong decisions | mean lines used | undecided at 2,000 (full run decides) |\n|---:|---:|---:|---:|',
);
for (const p of [0.95, 0.9, 0.85, 0.82, 0.78, 0.75, 0.7, 0.6]) {
  const random = createRandom(21);
  let wrong = 0;
  let used = 0;
  let open = 0;
  const runs = 500;
  for (let r = 0; r < runs; r++) {
    const data = Array.from({ length: 2000 }, (): number => (random() < p ? 1 : 0));
    const stop = new EarlyStop([{ name: 'g', min: 0.8, low: 0, high: 1 }]);
    let n = 2000;
    for (const line of seededOrder(2000, r)) {
      stop.observe(0, data[line]);
      if (stop.decided()) {
        n = stop.status()[0].n;
        break;
      }
    }
    const d = stop.status()[0].decision;
    if (d === 'open') open++;
    if ((d === 'pass' && p < 0.8) || (d === 'fail' && p >= 0.8)) wrong++;
    used += n;
  }
  console.log(
    `| ${p} | ${((wrong / runs) * 100).toFixed(1)}% | ${Math.round(used / runs)} | ${((open / runs) * 100).toFixed(0)}% |`,
  );
}

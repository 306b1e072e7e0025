/**
 * Parity's disagreement-rate bound with and without `cluster_by`, against values worked out by hand (second
 * method: with equal cluster sizes the cluster-robust CR1 standard error is the plain standard error of the
 * cluster means, s/√G; t(0.95, 9) = 1.8331129326536335 and z(0.95) = 1.6448536269514722 as scipy gives them).
 */
import { disagreementUpperBound } from '../../src/shared/parity/disagreement.js';

const z = 1.6448536269514722;
const t9 = 1.8331129326536335;
/** Wilson's upper bound, written out. */
const wilsonUpper = (x: number, n: number) => {
  const p = x / n;
  const d = 1 + (z * z) / n;
  return (p + (z * z) / (2 * n)) / d + (z / d) * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
};

// 50 lines in 10 clusters of 5; clusters 0 and 1 disagree on all their lines, the rest on none.
const cluster = Array.from({ length: 50 }, (_, i) => `doc${Math.floor(i / 5)}`);
const disagrees = cluster.map((c) => c === 'doc0' || c === 'doc1');

test('without clusters the bound is the one-sided Wilson bound over the lines', () => {
  expect(disagreementUpperBound(disagrees, 0.05)).toEqual({ upper: expect.closeTo(wilsonUpper(10, 50), 10) });
  // Distinct ids are no clustering either.
  const own = cluster.map((_, i) => `line${i}`);
  expect(disagreementUpperBound(disagrees, 0.05, own).clusters).toBeUndefined();
});

test('lines that disagree together widen the bound: the cluster-robust t bound over the clusters', () => {
  const means = [1, 1, 0, 0, 0, 0, 0, 0, 0, 0];
  const m = 0.2;
  const s = Math.sqrt(means.reduce((a, x) => a + (x - m) ** 2, 0) / 9);
  const expected = m + t9 * (s / Math.sqrt(10)); // 0.4444…
  const bound = disagreementUpperBound(disagrees, 0.05, cluster);
  expect(bound.clusters).toBe(10);
  expect(bound.upper).toBeCloseTo(expected, 10);
  expect(bound.upper).toBeCloseTo(0.44441, 4);
  expect(bound.upper).toBeGreaterThan(wilsonUpper(10, 50) + 0.1); // 0.307 unclustered
});

test('disagreements spread one per cluster never get a bound narrower than the independent one', () => {
  const spread = cluster.map((_, i) => i % 5 === 0 && i < 25);
  const bound = disagreementUpperBound(spread, 0.05, cluster);
  expect(bound.upper).toBeGreaterThanOrEqual(wilsonUpper(5, 50) - 1e-12);
});

test('no disagreement at all: the zero-count bound at the number of clusters, z²/(G + z²)', () => {
  const none = cluster.map(() => false);
  expect(disagreementUpperBound(none, 0.05, cluster)).toEqual({
    upper: expect.closeTo((z * z) / (10 + z * z), 10),
    clusters: 10,
  });
  expect(disagreementUpperBound(none, 0.05).upper).toBeCloseTo((z * z) / (50 + z * z), 10);
  expect(disagreementUpperBound([], 0.05).upper).toBeNaN();
});

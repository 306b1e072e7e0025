/**
 * A small seeded pseudo-random generator, so every bootstrap interval in a report can be
 * reproduced exactly from its seed. Not for cryptography.
 * @module
 */

/** The seed used when the caller gives none: bootstrap results are reproducible by default. */
export const DEFAULT_SEED = 20240917;

/** A source of uniform numbers in [0, 1). */
export type Random = () => number;

/**
 * Mulberry32: a 32-bit state generator with a full 2^32 period, fast and well distributed for
 * resampling. The same seed always yields the same sequence, on every platform.
 */
export function createRandom(seed: number = DEFAULT_SEED): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A uniform integer in [0, n). */
export function randomIndex(random: Random, n: number): number {
  return Math.floor(random() * n);
}

/**
 * One cluster-bootstrap draw: pick as many clusters as there are, with replacement, and return
 * the mean over their lines (`sums[k]` and `counts[k]` are cluster k's total and line count).
 */
export function resampledClusterMean(random: Random, sums: ArrayLike<number>, counts: ArrayLike<number>): number {
  const g = sums.length;
  let sum = 0;
  let count = 0;
  for (let k = 0; k < g; k++) {
    const pick = randomIndex(random, g);
    sum += sums[pick];
    count += counts[pick];
  }
  return sum / count;
}

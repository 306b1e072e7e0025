/**
 * Statistics of repeated sampling (`repeat: K`): each line answered K times. pass@k says how likely at least one
 * of k answers passes; consistency says how often the K answers of a line agree with each other.
 * @module
 */

/**
 * Unbiased pass@k of one line with c passes among n samples (Chen et al. 2021, "Evaluating large language models
 * trained on code"): 1 − C(n − c, k) / C(n, k), computed as a running product so large n does not overflow.
 */
export function passAtK(n: number, c: number, k: number): number {
  if (!(Number.isInteger(n) && Number.isInteger(c) && Number.isInteger(k) && n >= 1 && c >= 0 && c <= n))
    throw new RangeError(`passAtK: need integers n >= 1 and 0 <= c <= n, got n=${n}, c=${c}`);
  if (!(k >= 1 && k <= n)) throw new RangeError(`passAtK: k must be in 1..${n}, got ${k}`);
  if (n - c < k) return 1;
  // C(n−c, k)/C(n, k) = Π_{i=n−c+1}^{n} (1 − k/i)
  let allFail = 1;
  for (let i = n - c + 1; i <= n; i++) allFail *= 1 - k / i;
  return 1 - allFail;
}

/** Mean pass@k over lines, each given as its list of K pass/fail (1/0) scores. */
export function meanPassAtK(perLine: readonly (readonly number[])[], k: number): number {
  if (perLine.length === 0) return NaN;
  let total = 0;
  for (const scores of perLine) {
    const c = scores.reduce((a, s) => a + (s >= 0.5 ? 1 : 0), 0);
    total += passAtK(scores.length, c, Math.min(k, scores.length));
  }
  return total / perLine.length;
}

export interface Consistency {
  /** Lines whose K answers are all the same. */
  unanimous: number;
  /** Share of lines whose K answers are all the same. */
  unanimousShare: number;
  /** Mean over lines of the share of the K(K − 1)/2 pairs of answers that agree. */
  pairwiseAgreement: number;
  lines: number;
}

/**
 * How often a line's K answers agree: the share of unanimous lines and the mean pairwise agreement. Answers are
 * compared by `key` (the default compares JSON text, so {"a":1} equals {"a":1}); lines with one answer count as
 * unanimous and as full agreement.
 */
export function consistency<T>(
  perLine: readonly (readonly T[])[],
  key: (answer: T) => string = (a) => JSON.stringify(a) ?? String(a),
): Consistency {
  let unanimous = 0;
  let agreementSum = 0;
  for (const answers of perLine) {
    const counts = new Map<string, number>();
    for (const a of answers) {
      const k = key(a);
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    const n = answers.length;
    if (counts.size <= 1) unanimous++;
    if (n < 2) {
      agreementSum += 1;
      continue;
    }
    // Agreeing pairs: Σ over distinct answers of C(count, 2).
    let agreeing = 0;
    for (const c of counts.values()) agreeing += (c * (c - 1)) / 2;
    agreementSum += agreeing / ((n * (n - 1)) / 2);
  }
  const lines = perLine.length;
  return {
    unanimous,
    unanimousShare: lines ? unanimous / lines : NaN,
    pairwiseAgreement: lines ? agreementSum / lines : NaN,
    lines,
  };
}

/**
 * ROUGE-L: longest-common-subsequence overlap.
 * @module
 */
import { alphanumericTokens, bestOver } from './text.js';

export interface RougeLOptions {
  /**
   * Weight of recall against precision in the F-measure. Default 1 (plain F1): what the
   * rouge-score package and ROUGE-1.5.5's default (α = 0.5) compute. The COCO caption
   * evaluation uses 1.2; Lin (2004) suggests a large β when only recall matters.
   */
  beta?: number;
  /** Tokeniser; default lowercased alphanumeric runs (punctuation is a separator). */
  tokenize?: (text: string) => string[];
}

/** Length of the longest common subsequence of two token lists (O(m·n) time, O(n) memory). */
export function lcsLength(a: readonly string[], b: readonly string[]): number {
  let previous = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    const current = new Array<number>(b.length + 1).fill(0);
    for (let j = 1; j <= b.length; j++) {
      current[j] = a[i - 1] === b[j - 1] ? previous[j - 1] + 1 : Math.max(previous[j], current[j - 1]);
    }
    previous = current;
  }
  return previous[b.length];
}

/**
 * Sentence-level ROUGE-L (Lin 2004, §3.1): with LCS the longest common subsequence of candidate
 * and reference tokens, R = LCS / |reference|, P = LCS / |candidate| and
 * F = (1 + β²) · P · R / (R + β² · P). Returns 0..1; 0 when nothing is shared. With several
 * references the best F counts.
 */
export function rougeL(candidate: string, reference: string | readonly string[], options: RougeLOptions = {}): number {
  const beta = options.beta ?? 1;
  if (!(beta > 0)) throw new RangeError(`rougeL: beta must be > 0, got ${beta}`);
  const tokenize = options.tokenize ?? alphanumericTokens;
  const cand = tokenize(candidate);
  return bestOver(reference, (r) => {
    const ref = tokenize(r);
    const lcs = lcsLength(cand, ref);
    if (lcs === 0) return 0;
    const precision = lcs / cand.length;
    const recall = lcs / ref.length;
    const b2 = beta * beta;
    return ((1 + b2) * precision * recall) / (recall + b2 * precision);
  });
}

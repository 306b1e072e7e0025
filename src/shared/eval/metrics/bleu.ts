/**
 * Sentence-level BLEU.
 * @module
 */
import { countItems, wordAndPunctuationTokens } from './text.js';

/**
 * Smoothing for n-gram orders with no match (sentence BLEU is 0 without it whenever one order misses):
 * - `add-one` (default): Lin & Och (2004), Chen & Cherry (2014) method 2, NLTK `method2` —
 *   p_n = (m_n + 1) / (l_n + 1) for n ≥ 2; unigram precision unchanged.
 * - `epsilon`: Chen & Cherry (2014) method 1, NLTK `method1` — a zero match count m_n becomes ε (0.1).
 * - `none`: plain BLEU (Papineni et al. 2002): any zero precision gives 0.
 */
export type BleuSmoothing = 'add-one' | 'epsilon' | 'none';

export interface BleuOptions {
  /** Highest n-gram order, uniform weights 1/N; default 4. */
  maxOrder?: number;
  /** Default 'add-one'. */
  smoothing?: BleuSmoothing;
  /** ε of the 'epsilon' smoothing; default 0.1. */
  epsilon?: number;
  /** Lowercase both texts first; default false (BLEU is case-sensitive). */
  lowercase?: boolean;
  /** Tokeniser; default words and punctuation marks as separate tokens. */
  tokenize?: (text: string) => string[];
}

function ngrams(tokens: readonly string[], n: number): string[] {
  const out: string[] = [];
  // U+0001 cannot occur in a token, so joined n-grams never collide.
  for (let i = 0; i + n <= tokens.length; i++) out.push(tokens.slice(i, i + n).join('\u0001'));
  return out;
}

/**
 * Sentence BLEU-N (Papineni et al. 2002) of a candidate against one or more references: the
 * geometric mean of modified (clipped) n-gram precisions, n = 1..N, times the brevity penalty
 * BP = 1 if c > r else exp(1 − r / c), with r the reference length closest to the candidate
 * length c (the shorter on a tie). Precisions are taken as m_n / max(1, l_n) before smoothing,
 * as NLTK does, so a candidate shorter than N tokens stays below 1 even when it equals the
 * reference. Returns 0..1; 0 for an empty candidate.
 */
export function bleu(candidate: string, references: string | readonly string[], options: BleuOptions = {}): number {
  const maxOrder = options.maxOrder ?? 4;
  if (!(Number.isInteger(maxOrder) && maxOrder >= 1))
    throw new RangeError(`bleu: maxOrder must be a positive integer, got ${maxOrder}`);
  const smoothing = options.smoothing ?? 'add-one';
  const epsilon = options.epsilon ?? 0.1;
  const tokenize = (text: string): string[] =>
    (options.tokenize ?? wordAndPunctuationTokens)(options.lowercase ? text.toLowerCase() : text);
  const cand = tokenize(candidate);
  const refs = (typeof references === 'string' ? [references] : references).map(tokenize);
  if (refs.length === 0) throw new RangeError('bleu: at least one reference is needed');
  if (cand.length === 0) return 0;

  let logSum = 0;
  for (let n = 1; n <= maxOrder; n++) {
    // Clip each candidate n-gram count by its largest count in any one reference.
    const maxRef = new Map<string, number>();
    for (const ref of refs) {
      for (const [gram, count] of countItems(ngrams(ref, n))) maxRef.set(gram, Math.max(count, maxRef.get(gram) ?? 0));
    }
    let matches = 0;
    let total = 0;
    for (const [gram, count] of countItems(ngrams(cand, n))) {
      matches += Math.min(count, maxRef.get(gram) ?? 0);
      total += count;
    }
    let numerator = matches;
    let denominator = Math.max(1, total);
    if (smoothing === 'add-one' && n >= 2) {
      numerator += 1;
      denominator += 1;
    } else if (smoothing === 'epsilon' && matches === 0) {
      numerator = epsilon;
    }
    if (numerator === 0) return 0;
    logSum += Math.log(numerator / denominator) / maxOrder;
  }

  const c = cand.length;
  const r = refs
    .map((ref) => ref.length)
    .reduce((best, len) => {
      const d = Math.abs(len - c);
      const bestD = Math.abs(best - c);
      return d < bestD || (d === bestD && len < best) ? len : best;
    });
  const brevity = c > r ? 1 : Math.exp(1 - r / c);
  return brevity * Math.exp(logSum);
}

/**
 * Text normalisation and tokenisation shared by the text metrics.
 * @module
 */

/** ASCII punctuation, the set Python's `string.punctuation` holds (what the SQuAD script strips). */
const ASCII_PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;

/**
 * SQuAD answer normalisation (the official v1.1/v2.0 evaluation script): lowercase, remove ASCII
 * punctuation, remove the articles a/an/the, collapse whitespace.
 */
export function normalizeSquad(text: string): string {
  const noPunctuation = text.toLowerCase().replace(ASCII_PUNCTUATION, '');
  const noArticles = noPunctuation.replace(/\b(a|an|the)\b/g, ' ');
  return noArticles.split(/\s+/).filter(Boolean).join(' ');
}

/** Whitespace tokens, empty strings dropped. */
export function whitespaceTokens(text: string): string[] {
  return text.split(/\s+/).filter(Boolean);
}

/**
 * Word tokens for BLEU: runs of letters, digits and underscore, and every other non-space
 * character as a token of its own ("sat." → "sat", "."), like sacreBLEU's international tokeniser.
 */
export function wordAndPunctuationTokens(text: string): string[] {
  return text.match(/[\p{L}\p{N}\p{M}_]+|[^\s\p{L}\p{N}\p{M}_]/gu) ?? [];
}

/** Lowercased alphanumeric runs, everything else a separator (the rouge-score package's default tokeniser, Unicode-aware). */
export function alphanumericTokens(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}\p{M}]+/gu) ?? [];
}

/** Counts of each item. */
export function countItems(items: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return counts;
}

/** The best score of `prediction` against any of the references (SQuAD's "max over ground truths"). */
export function bestOver(references: string | readonly string[], score: (reference: string) => number): number {
  const list = typeof references === 'string' ? [references] : references;
  if (list.length === 0) throw new RangeError('at least one reference is needed');
  return Math.max(...list.map(score));
}

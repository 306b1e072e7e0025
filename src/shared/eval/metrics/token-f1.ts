/**
 * Token-overlap F1, as in the SQuAD evaluation script.
 * @module
 */
import { bestOver, countItems, normalizeSquad, whitespaceTokens } from './text.js';

/**
 * SQuAD token F1 (Rajpurkar et al. 2016; official v2.0 script): normalise both texts (lowercase,
 * strip punctuation and articles, collapse whitespace), split on whitespace, count the multiset
 * overlap; F1 = 2PR / (P + R) with P = overlap / prediction tokens, R = overlap / reference tokens.
 * If either side has no tokens, F1 is 1 when both are empty, else 0. With several references
 * the best F1 counts.
 */
export function tokenF1(prediction: string, reference: string | readonly string[]): number {
  const predicted = whitespaceTokens(normalizeSquad(prediction));
  return bestOver(reference, (r) => f1(predicted, whitespaceTokens(normalizeSquad(r))));
}

function f1(predicted: readonly string[], expected: readonly string[]): number {
  if (predicted.length === 0 || expected.length === 0) return predicted.length === expected.length ? 1 : 0;
  const expectedCounts = countItems(expected);
  let overlap = 0;
  for (const [token, count] of countItems(predicted)) overlap += Math.min(count, expectedCounts.get(token) ?? 0);
  if (overlap === 0) return 0;
  const precision = overlap / predicted.length;
  const recall = overlap / expected.length;
  return (2 * precision * recall) / (precision + recall);
}

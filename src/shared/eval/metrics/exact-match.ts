/**
 * Exact match of a prediction with a reference answer.
 * @module
 */
import { bestOver } from './text.js';

export interface ExactMatchOptions {
  /** Compare ignoring case (Unicode lowercase); default false. */
  caseInsensitive?: boolean;
  /** Trim leading and trailing whitespace first; default true. */
  trim?: boolean;
}

/**
 * 1 when the prediction equals a reference after normalisation, else 0. Normalisation: Unicode
 * NFC, then trim (default on), then lowercase (when `caseInsensitive`). With several references
 * the prediction matches if it equals any of them.
 */
export function exactMatch(
  prediction: string,
  reference: string | readonly string[],
  options: ExactMatchOptions = {},
): 0 | 1 {
  const normalize = (s: string): string => {
    let out = s.normalize('NFC');
    if (options.trim ?? true) out = out.trim();
    return options.caseInsensitive ? out.toLowerCase() : out;
  };
  const p = normalize(prediction);
  return bestOver(reference, (r) => (normalize(r) === p ? 1 : 0)) as 0 | 1;
}

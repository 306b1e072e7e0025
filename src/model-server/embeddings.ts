/**
 * Deterministic embeddings: a signed hashed bag of words, L2-normalised. Texts sharing words point the same
 * way, so cosine similarity behaves plausibly (identical texts → 1, unrelated texts → about 0) without a model.
 * Common function words are left out and a plural "s" is folded, as a real model mostly ignores both: otherwise
 * "the" and "of" decide which passage is nearest to a question (retrieval examples rank by these vectors).
 * @module
 */
import { hashString } from './seeded.js';

/** Dimension when the request gives no `dimensions`. */
export const DEFAULT_EMBEDDING_DIMENSIONS = 256;

const WORD = /[\p{L}\p{N}]+/gu;

const STOP_WORDS = new Set(
  (
    'a an and are as at be been but by can could did do does for from had has have how i if in into is it its ' +
    'me my no not of on or our so than that the their them then there these they this those to was we were what ' +
    'when where which who why will with would you your'
  ).split(' '),
);

function foldPlural(word: string): string {
  return word.length > 3 && word.endsWith('s') && !word.endsWith('ss') ? word.slice(0, -1) : word;
}

/** The embedding of one text. The same (text, dimensions, seed) always gives the same vector. */
export function embedText(text: string, dimensions: number, seed: number): Float32Array {
  const v = new Float32Array(dimensions);
  const all = text.toLowerCase().match(WORD) ?? [];
  const content = all.filter((w) => !STOP_WORDS.has(w));
  // A text of function words only ("to be or not to be") still gets a vector of its own.
  const words = (content.length > 0 ? content : all).map(foldPlural);
  for (const w of words) {
    const h = hashString(w, seed);
    v[h % dimensions] += h & 0x80000000 ? -1 : 1;
  }
  let norm = 0;
  for (let i = 0; i < dimensions; i++) norm += v[i] * v[i];
  if (norm === 0) {
    // No words at all: still return a unit vector, as real models do for empty text.
    v[hashString('', seed) % dimensions] = 1;
    return v;
  }
  const inv = 1 / Math.sqrt(norm);
  for (let i = 0; i < dimensions; i++) v[i] *= inv;
  return v;
}

/** The texts of an embeddings `input` (token arrays are read as their numbers). */
export function embeddingInputs(input: unknown): string[] {
  if (typeof input === 'string') return [input];
  const list = input as unknown[];
  if (list.every((x) => typeof x === 'number')) return [list.join(' ')];
  return list.map((x) => (typeof x === 'string' ? x : (x as number[]).join(' ')));
}

/** A vector as the API sends it: a float list, or base64 of little-endian float32 (what the openai npm client asks for). */
export function encodeVector(v: Float32Array, format: unknown): number[] | string {
  if (format === 'base64') return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  return Array.from(v);
}

/**
 * Deterministic embeddings: a signed hashed bag of words, L2-normalised. Texts sharing words point the same
 * way, so cosine similarity behaves plausibly (identical texts → 1, unrelated texts → about 0) without a model.
 * @module
 */
import { hashString } from './seeded.js';

/** Dimension when the request gives no `dimensions`. */
export const DEFAULT_EMBEDDING_DIMENSIONS = 256;

const WORD = /[\p{L}\p{N}]+/gu;

/** The embedding of one text. The same (text, dimensions, seed) always gives the same vector. */
export function embedText(text: string, dimensions: number, seed: number): Float32Array {
  const v = new Float32Array(dimensions);
  const words = text.toLowerCase().match(WORD) ?? [];
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

/**
 * Cosine similarity of two vectors (e.g. embeddings of an answer and the ground truth).
 * @module
 */

/**
 * cos θ = a·b / (‖a‖ ‖b‖), in [−1, 1] (0..1 for non-negative vectors). 0 when either vector is
 * all zeros, where the angle is undefined.
 * @throws RangeError when the vectors differ in length or hold a non-finite number.
 */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length)
    throw new RangeError(`cosineSimilarity: vectors differ in length (${a.length} and ${b.length})`);
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]) || !Number.isFinite(b[i]))
      throw new RangeError(`cosineSimilarity: component ${i} is not a finite number`);
    dot += a[i] * b[i];
    normA += a[i] * a[i];
    normB += b[i] * b[i];
  }
  if (normA === 0 || normB === 0) return 0;
  // Rounding can push |cos| a hair past 1 for parallel vectors.
  return Math.max(-1, Math.min(1, dot / Math.sqrt(normA * normB)));
}

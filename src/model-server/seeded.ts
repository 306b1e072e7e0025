/**
 * Seeded, order-independent pseudo-randomness: every choice is a hash of (seed, request, how many times
 * this exact request was seen), so the same request sequence gives the same faults and jitter on every run.
 * @module
 */

/** FNV-1a 32-bit hash of a string, starting from `seed`. */
export function hashString(text: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Mix integers into a float in [0, 1) (a splitmix-style finaliser). */
export function unitFloat(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return (h >>> 0) / 4294967296;
}

/** A short hex id derived from a hash, for completion ids and tool-call ids. */
export function hexId(...parts: number[]): string {
  return parts.map((p) => (p >>> 0).toString(16).padStart(8, '0')).join('');
}

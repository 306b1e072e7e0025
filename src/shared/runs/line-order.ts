/**
 * The seeded random order of an early-stop run's lines. A line's place comes from a hash of (seed, line number)
 * alone, not from a shuffle of the lines still to run, so a resumed run continues the very same order whatever
 * was recorded before, and line numbers from a `line_number` column need no renumbering.
 * @module
 */
import type { PendingLine } from './pending-lines.js';

/** A 32-bit rank of the line in the seed's order (the murmur3 finaliser over seed and line number). */
export function lineRank(lineNumber: number, seed: number): number {
  let h = (seed ^ Math.imul(lineNumber + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Orders line numbers by their rank in the seed's order (ties, which are rare, by line number). */
export function bySeededOrder(seed: number): (a: number, b: number) => number {
  return (a, b) => lineRank(a, seed) - lineRank(b, seed) || a - b;
}

/**
 * The pending lines in the seed's order, as one batch. Every pending line is held at once: an early-stop run is
 * sized for a pull request (its point is to run few lines), not the million-line path, which streams.
 */
export async function* inSeededOrder(lines: AsyncIterable<PendingLine[]>, seed: number): AsyncGenerator<PendingLine[]> {
  const all: PendingLine[] = [];
  for await (const batch of lines) for (const l of batch) all.push(l);
  const order = bySeededOrder(seed);
  all.sort((a, b) => order(a.lineNumber, b.lineNumber));
  if (all.length > 0) yield all;
}

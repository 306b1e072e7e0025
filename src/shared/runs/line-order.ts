/**
 * The seeded random order of an early-stop run's lines. A line's place comes from a hash of (seed, line number)
 * alone, not from a shuffle of the lines still to run, so a resumed run continues the very same order whatever
 * was recorded before, and line numbers from a `line_number` column need no renumbering.
 * @module
 */

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

/** Lines held at once by the first window of the order; each later window doubles, up to the last size. */
export const ORDER_WINDOW = { first: 1024, max: 32_768 };

/**
 * Items (data lines) in the seed's order, read a window at a time so memory stays flat in dataset size: each
 * pass over the data keeps only the `size` lines that come next in the order (a sort every time twice that many
 * are held drops the rest) and hands them on before the next pass reads on. An early-stop run usually stops in
 * the first window, after one pass; a run that never stops reads its data about (lines / 32k + 5) times.
 * `read(wanted)` streams the data; `wanted(lineNumber)` says early whether a line can still be kept, so the
 * reader can skip the work of making the item.
 */
export async function* inSeededOrder<T extends { lineNumber: number }>(
  read: (wanted: (lineNumber: number) => boolean) => AsyncIterable<T[]>,
  seed: number,
  window = ORDER_WINDOW,
): AsyncGenerator<T[]> {
  const order = bySeededOrder(seed);
  let after: number | undefined; // the last line handed on: the next window starts past it
  for (let size = window.first; ; size = Math.min(size * 2, window.max)) {
    let kept: T[] = [];
    let bound: number | undefined; // once kept was cut to size: nothing past this line can enter
    const wanted = (n: number) =>
      (after === undefined || order(n, after) > 0) && (bound === undefined || order(n, bound) < 0);
    const byOrder = (a: T, b: T) => order(a.lineNumber, b.lineNumber);
    for await (const items of read(wanted)) {
      for (const item of items) {
        if (!wanted(item.lineNumber)) continue;
        kept.push(item);
        if (kept.length >= 2 * size) {
          kept.sort(byOrder);
          kept = kept.slice(0, size);
          bound = kept[size - 1].lineNumber;
        }
      }
    }
    kept.sort(byOrder);
    if (kept.length > size) kept = kept.slice(0, size);
    if (kept.length > 0) {
      after = kept[kept.length - 1].lineNumber;
      yield kept;
    }
    if (kept.length < size) return;
  }
}

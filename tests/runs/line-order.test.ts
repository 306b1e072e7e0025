/**
 * The seeded order read a window at a time is the whole order: every line once, in the order a full sort gives,
 * whatever the window sizes, and no window holds more lines than its size (memory flat in dataset size).
 */
import { bySeededOrder, inSeededOrder } from '../../src/shared/runs/line-order.js';

/** Lines 0..n-1 in file order, `chunk` at a time, counting the passes and the lines made. */
function source(numbers: number[], chunk = 100) {
  const seen = { passes: 0, made: 0 };
  const read = async function* (wanted: (n: number) => boolean) {
    seen.passes++;
    for (let i = 0; i < numbers.length; i += chunk) {
      const out = numbers.slice(i, i + chunk).filter(wanted);
      seen.made += out.length;
      yield out.map((lineNumber) => ({ lineNumber }));
    }
  };
  return { read, seen };
}

test.each([
  [1, { first: 1, max: 1 }],
  [999, { first: 7, max: 50 }],
  [5000, { first: 64, max: 1024 }],
  [3000, { first: 4096, max: 4096 }],
])('%i lines in windows of %j come in the full order, each window within its size', async (n, window) => {
  // Line numbers need not be positions (a line_number column): every third one, shuffled in the file.
  const numbers = Array.from({ length: n }, (_, i) => i * 3).sort((a, b) => ((a * 7919) % 1009) - ((b * 7919) % 1009));
  const { read, seen } = source(numbers);
  const got: number[] = [];
  let size = window.first;
  for await (const batch of inSeededOrder(read, 42, window)) {
    expect(batch.length).toBeLessThanOrEqual(size);
    size = Math.min(size * 2, window.max);
    got.push(...batch.map((l) => l.lineNumber));
  }
  expect(got).toEqual([...numbers].sort(bySeededOrder(42)));
  if (n > 4 * window.max) expect(seen.passes).toBeGreaterThan(1);
});

test('a consumer that stops after the first window reads the data once and makes few lines', async () => {
  const numbers = Array.from({ length: 100_000 }, (_, i) => i);
  const { read, seen } = source(numbers, 1000);
  for await (const batch of inSeededOrder(read, 7)) {
    expect(batch).toHaveLength(1024);
    break;
  }
  expect(seen.passes).toBe(1);
  // Lines past the window's bound are not made: far fewer than the 100k of the data.
  expect(seen.made).toBeLessThan(20_000);
});

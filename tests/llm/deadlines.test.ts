/** The deadline queue of lines and model calls: order, finishing, and what a finished deadline keeps alive. */
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DeadlineQueue } from '../../src/shared/llm/deadlines.js';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('deadlines expire in start order; finished ones never do, in any order, and finishing twice is harmless', async () => {
  const q = new DeadlineQueue(40);
  const fired: string[] = [];
  const a = q.start(() => fired.push('a'));
  const b = q.start(() => fired.push('b'));
  const c = q.start(() => fired.push('c'));
  const d = q.start(() => fired.push('d'));
  q.finish(b); // the middle
  q.finish(d); // the last
  q.finish(b);
  expect(q.pending).toBe(2);
  await wait(80);
  expect(fired).toEqual(['a', 'c']);
  expect([a.expired, b.expired, c.expired, d.expired]).toEqual([true, false, true, false]);
  q.finish(a); // after it fired: nothing happens
  expect(q.pending).toBe(0);
});

test('a deadline started while another expires, and one started after the queue emptied, both fire', async () => {
  const q = new DeadlineQueue(30);
  const fired: string[] = [];
  q.start(() => {
    fired.push('first');
    q.start(() => fired.push('started by first'));
  });
  await wait(50);
  expect(fired).toEqual(['first']);
  await wait(50);
  expect(fired).toEqual(['first', 'started by first']);
  q.finish(q.start(() => fired.push('finished')));
  q.start(() => fired.push('late'));
  await wait(60);
  expect(fired).toEqual(['first', 'started by first', 'late']);
});

test('work started and finished one piece after another does not make young-generation collections promote it', () => {
  // A long-lived queue (moved to old space by full collections first), then 100,000 pieces of work with about 10 in
  // flight, each holding a closure over 2 KB: what a served flow's lines and model calls do. A queue that keeps a
  // link from a finished (dead, promoted) entry to later ones makes every scavenge copy and promote them all
  // (a Set did: ~1.5 MB per scavenge).
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const q = new DeadlineQueue(60_000);
  for (let i = 0; i < 4; i++) q.finish(q.start(() => undefined));
  gc();
  gc();
  const profiler = new v8.GCProfiler();
  profiler.start();
  const inFlight: ReturnType<DeadlineQueue['start']>[] = [];
  for (let i = 0; i < 100_000; i++) {
    const payload = new Array<number>(256).fill(i);
    inFlight.push(q.start(() => payload.length));
    if (inFlight.length > 10) q.finish(inFlight.shift()!);
  }
  for (const d of inFlight) q.finish(d);
  const stats = profiler.stop() as unknown as {
    statistics: { gcType: string; beforeGC: HeapStats; afterGC: HeapStats }[];
  };
  const scavenges = stats.statistics.filter((g) => g.gcType === 'Scavenge');
  expect(scavenges.length).toBeGreaterThan(2);
  const promoted = scavenges.reduce((sum, g) => sum + Math.max(0, oldBytes(g.afterGC) - oldBytes(g.beforeGC)), 0);
  // Only the ~10 entries in flight at each collection may survive; 64 KB per scavenge leaves room for V8's own.
  expect(promoted / scavenges.length).toBeLessThan(64 * 1024);
  expect(q.pending).toBe(0);
});

interface HeapStats {
  heapStatistics: { usedHeapSize: number };
  heapSpaceStatistics: { spaceName: string; spaceUsedSize: number }[];
}
function oldBytes(h: HeapStats): number {
  const young = h.heapSpaceStatistics
    .filter((s) => s.spaceName === 'new_space' || s.spaceName === 'new_large_object_space')
    .reduce((sum, s) => sum + s.spaceUsedSize, 0);
  return h.heapStatistics.usedHeapSize - young;
}

/**
 * The sample of served requests the use case's reference-free evaluators score (evaluate-sample.ts).
 * @module
 */
import { createRandom, DEFAULT_SEED, randomIndex } from '../eval/stats/random.js';
import type { RequestRecord } from './records.js';

/**
 * Up to `size` requests drawn at random without replacement, from a fixed seed (the same ones every time for
 * the same log). Not evenly spaced: traffic with a period (alternating callers, a split's round robin) would
 * alias with the spacing and bias the sample.
 */
export function sampleRequests(requests: readonly RequestRecord[], size: number, seed = DEFAULT_SEED): RequestRecord[] {
  if (requests.length <= size) return [...requests];
  const random = createRandom(seed);
  const pool = [...requests];
  for (let i = 0; i < size; i++) {
    const j = i + randomIndex(random, pool.length - i);
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, size).sort((a, b) => a.time - b.time);
}

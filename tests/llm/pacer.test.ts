/**
 * Pacing a declared quota: the pacer's slots on a fake clock, and four services (the shards of a cloud run, each
 * with its share of the quota) against the local model server enforcing the whole quota over a short window.
 */
import { LlmService } from '../../src/shared/engine/llm-service.js';
import type { Connection } from '../../src/shared/config/connections.js';
import { RatePacer } from '../../src/shared/llm/pacer.js';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';

test('request slots are 60000/rpm ms apart, taken from the previous slot; no pacing without a limit', () => {
  let now = 1_000;
  const pacer = new RatePacer({ requestsPerMinute: 600 }, () => now);
  expect([pacer.reserve(), pacer.reserve(), pacer.reserve()]).toEqual([0, 100, 200]);
  now += 1_000; // idle time is not saved as a burst: one slot now, the next a full interval later
  expect([pacer.reserve(), pacer.reserve()]).toEqual([0, 100]);
  const free = new RatePacer({}, () => now);
  expect([free.reserve(), free.reserve()]).toEqual([0, 0]);
});

test("the token budget: requests wait while the minute's tokens are overdrawn, unused time is no credit", () => {
  let now = 0;
  const pacer = new RatePacer({ tokensPerMinute: 6_000 }, () => now); // 0.1 token per ms
  expect(pacer.reserve()).toBe(0);
  pacer.spent(50);
  expect(pacer.reserve()).toBeCloseTo(500);
  now += 500;
  expect(pacer.reserve()).toBeCloseTo(0);
  now += 60_000;
  pacer.spent(100);
  expect(pacer.reserve()).toBeCloseTo(1_000);
});

describe('four shares of one quota against a model enforcing the whole of it', () => {
  let server: ModelServerHandle;
  // 40 requests per second, enforced over a 1 s sliding window (no burst above it is let through).
  const PER_SECOND = 40;
  beforeAll(async () => {
    server = await startModelServer({ rpm: PER_SECOND, windowMs: 1_000, latencyMs: 20 });
  });
  afterAll(() => server.close());

  const connection = (): Connection => ({
    name: 'aoai',
    type: 'AzureOpenAIConnection',
    value: { api_base: server.url, api_key: 'k' },
    secretKeys: ['api_key'],
  });

  async function shards(n: number, perShard: number, share?: number) {
    const before = server.stats();
    const started = performance.now();
    await Promise.all(
      Array.from({ length: n }, async (_, shard) => {
        const llm = new LlmService({
          rates: share ? { requestsPerMinute: share } : undefined,
          client: { retry: { maxRetries: 20 } },
        });
        await Promise.all(
          Array.from({ length: perShard }, (_, i) =>
            llm.call(
              'chat',
              connection(),
              { model: 'gpt-4o', messages: [{ role: 'user', content: `s${shard} q${i}` }] },
              [],
            ),
          ),
        );
      }),
    );
    const after = server.stats();
    return {
      seconds: (performance.now() - started) / 1000,
      throttled: after.rateLimited - before.rateLimited,
      ok: (after.byStatus['200'] ?? 0) - (before.byStatus['200'] ?? 0),
    };
  }

  test('each shard paced at its share: every request answered, no 429 storm, the rate within the quota', async () => {
    // Declared at 90% of what the model lets through: each shard paces 9 requests in any second, whole. (Declared
    // at 100%, a request arriving a few ms early at the edge of a window the others fill is refused now and then.)
    const r = await shards(4, 30, (PER_SECOND * 0.9 * 60) / 4);
    expect(r.ok).toBe(120);
    // Unpaced, the same work is refused about once per request (below).
    expect(r.throttled).toBeLessThanOrEqual(1);
    // 120 requests at 36/s: about 3.3 s.
    expect(120 / r.seconds).toBeLessThanOrEqual(PER_SECOND * 0.9 * 1.05);
    expect(120 / r.seconds).toBeGreaterThan(PER_SECOND * 0.9 * 0.7);
  }, 60_000);

  test('without shares, four shards each backing off alone are throttled', async () => {
    await new Promise((r) => setTimeout(r, 1_100)); // an empty window
    const r = await shards(4, 30);
    expect(r.ok).toBe(120);
    expect(r.throttled).toBeGreaterThan(60);
  }, 60_000);
});

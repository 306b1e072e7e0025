/**
 * Pacing a declared quota: the pacer's slots on a fake clock, and four services (the shards of a cloud run, each
 * with its share of the quota) against the local model server enforcing the whole quota over a short window.
 */
import { LlmService } from '../../src/shared/engine/llm-service.js';
import type { Connection } from '../../src/shared/config/connections.js';
import { RatePacer } from '../../src/shared/llm/pacer.js';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';

test('starts are 60000/rpm ms apart, timed from the previous start as it happened; none without a limit', () => {
  let now = 1_000;
  const pacer = new RatePacer({ requestsPerMinute: 600 }, () => now);
  expect(pacer.wait()).toBe(0);
  pacer.start();
  expect(pacer.wait()).toBe(100);
  now += 60;
  expect(pacer.wait()).toBe(40);
  now += 90; // a timer that fired 50 ms late: the next start is a full interval after this one, no catching up
  pacer.start();
  expect(pacer.wait()).toBe(100);
  now += 1_000; // idle time is not saved as a burst
  pacer.start();
  expect(pacer.wait()).toBe(100);
  const free = new RatePacer({}, () => now);
  free.start();
  expect(free.wait()).toBe(0);
});

test("the token budget: each start takes a response's average tokens; overdrawn, starts wait; unused time is no credit", () => {
  let now = 0;
  const pacer = new RatePacer({ tokensPerMinute: 6_000 }, () => now); // 0.1 token per ms
  expect(pacer.wait()).toBe(0);
  pacer.start(); // before any answer: it takes nothing, its answer is debited whole
  expect(pacer.wait()).toBe(0);
  pacer.spent(50);
  expect(pacer.wait()).toBeCloseTo(500);
  now += 500;
  pacer.start(); // takes the 50 tokens answers use
  expect(pacer.wait()).toBeCloseTo(500);
  pacer.spent(50); // as estimated: nothing to settle
  expect(pacer.wait()).toBeCloseTo(500);
  now += 60_000;
  expect(pacer.wait()).toBe(0);
  pacer.start();
  pacer.spent(550); // 500 more than it took: 550 owed at 0.1/ms
  expect(pacer.wait()).toBeCloseTo(5_500);
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
    // 120 requests at 36/s: about 3.3 s. The lower bound only says pacing does not starve the shards: each start
    // is timed from the previous one as it happened, so on a loaded machine every late timer slows the rate a little.
    expect(120 / r.seconds).toBeLessThanOrEqual(PER_SECOND * 0.9 * 1.05);
    expect(120 / r.seconds).toBeGreaterThan(PER_SECOND * 0.9 * 0.5);
  }, 60_000);

  test('without shares, four shards each backing off alone are throttled', async () => {
    await new Promise((r) => setTimeout(r, 1_100)); // an empty window
    const r = await shards(4, 30);
    expect(r.ok).toBe(120);
    expect(r.throttled).toBeGreaterThan(60);
  }, 60_000);
});

describe('a tokens-per-minute quota against a model enforcing it', () => {
  let server: ModelServerHandle;
  // 3000 tokens per 1 s sliding window; the service declares 90% of it.
  const TOKENS_PER_SECOND = 3_000;
  beforeAll(async () => {
    server = await startModelServer({ tpm: TOKENS_PER_SECOND, windowMs: 1_000, latencyMs: 20 });
  });
  afterAll(() => server.close());

  async function run(tokensPerMinute?: number) {
    await new Promise((r) => setTimeout(r, 1_100)); // an empty window
    const before = server.stats();
    const started = performance.now();
    const llm = new LlmService({
      rates: tokensPerMinute ? { tokensPerMinute } : undefined,
      maxConcurrency: 8,
      client: { retry: { maxRetries: 20 } },
    });
    const connection: Connection = {
      name: 'aoai',
      type: 'AzureOpenAIConnection',
      value: { api_base: server.url, api_key: 'k' },
      secretKeys: ['api_key'],
    };
    const question = 'How many tokens does this question take, answered by an echo of itself? '.repeat(3);
    await Promise.all(
      Array.from({ length: 150 }, (_, i) =>
        llm.call(
          'chat',
          connection,
          { model: 'gpt-4o', messages: [{ role: 'user', content: `${i} ${question}` }] },
          [],
        ),
      ),
    );
    const after = server.stats();
    const tokens = after.promptTokens + after.completionTokens - before.promptTokens - before.completionTokens;
    return {
      throttled: after.rateLimited - before.rateLimited,
      tokensPerSecond: tokens / ((performance.now() - started) / 1000),
    };
  }

  test('paced by the tokens responses use: no 429 storm, tokens per second within the quota', async () => {
    const paced = await run(TOKENS_PER_SECOND * 0.9 * 60);
    const unpaced = await run();
    // Unpaced, the adaptive limiter finds the limit through refusals (16 to over 20 in our runs, fewer on a busy machine).
    expect(unpaced.throttled).toBeGreaterThan(paced.throttled + 6);
    // Bounded by one wave of the concurrency (8): the requests that started before the first answers were debited
    // make the first second's only overshoot (negligible against a one-minute window).
    expect(paced.throttled).toBeLessThanOrEqual(8);
    expect(paced.tokensPerSecond).toBeLessThanOrEqual(TOKENS_PER_SECOND * 0.9 * 1.1);
    expect(paced.tokensPerSecond).toBeGreaterThan(TOKENS_PER_SECOND * 0.9 * 0.5);
  }, 60_000);
});

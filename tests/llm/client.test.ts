/** The LLM client against the local model server: results, retries, limits, errors. */
import { ServiceError, exitCodeOf } from '../../src/shared/errors.js';
import { LlmClient } from '../../src/shared/llm/client.js';
import { LlmHttpError, LlmRetriesExhaustedError } from '../../src/shared/llm/errors.js';
import { chatStream } from '../../src/shared/llm/stream.js';
import { startModelServer, type ModelServerHandle, type ModelServerOptions } from '../../src/model-server/index.js';

const servers: ModelServerHandle[] = [];
async function serve(options: ModelServerOptions = {}): Promise<ModelServerHandle> {
  const s = await startModelServer(options);
  servers.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const azure = (url: string) => ({ type: 'azure_open_ai' as const, api_base: url, api_key: 'k' });
const ask = (content: string, model = 'gpt-4o') => ({ model, messages: [{ role: 'user', content }] });

test('chat over Azure paths: the echo, usage, latency and one attempt; the AOAI marker header is sent', async () => {
  const s = await serve();
  const seen: Headers[] = [];
  const client = new LlmClient({
    connection: azure(s.url),
    fetch: (input, init) => {
      seen.push(new Headers(init?.headers));
      return fetch(input, init);
    },
  });
  const r = await client.chat(ask('Hello'));
  expect(r.response.choices[0].message.content).toBe('user: Hello');
  expect(r.response.model).toBe('llmops-local-model/gpt-4o');
  expect(r.usage.promptTokens).toBeGreaterThan(0);
  expect(r.usage.totalTokens).toBe(r.usage.promptTokens + r.usage.completionTokens);
  expect(r).toMatchObject({ cached: false, attempts: 1 });
  expect(r.latencyMs).toBeGreaterThan(0);
  expect(seen[0].get('ms-azure-ai-promptflow-called-from')).toBe('aoai-tool');
  expect(seen[0].get('api-key')).toBe('k');
});

test('completion and embedding over an OpenAI connection', async () => {
  const s = await serve();
  const client = new LlmClient({ connection: { type: 'open_ai', api_key: 'k', base_url: `${s.url}/v1` } });
  const c = await client.completion({ model: 'gpt-35-turbo-instruct', prompt: 'Once upon a time', max_tokens: 16 });
  expect(c.response.choices[0].text).toBe('Once upon a time');
  const e = await client.embedding({ model: 'text-embedding-3-small', input: 'hello world' });
  expect(e.response.data[0].embedding).toHaveLength(256);
  expect(e.usage.completionTokens).toBe(0);
});

test('under an rpm limit every request succeeds, honouring Retry-After without a retry storm', async () => {
  const s = await serve({ rpm: 10, windowMs: 1000 });
  // No backoff jitter: only Retry-After makes a throttled call wait, so ignoring it would be a storm.
  const client = new LlmClient({ connection: azure(s.url), maxConcurrency: 16, random: () => 0 });
  const results = await Promise.all(Array.from({ length: 40 }, (_, i) => client.chat(ask(`question ${i}`))));
  expect(results.map((r) => r.response.choices[0].message.content)).toEqual(
    Array.from({ length: 40 }, (_, i) => `user: question ${i}`),
  );
  const stats = s.stats();
  expect(stats.byStatus['200']).toBe(40);
  // At most a concurrency's worth of throttled answers per window (16 x 4), each waited out; retrying
  // without honouring Retry-After would send thousands in the same 3 seconds.
  expect(stats.rateLimited).toBeGreaterThan(0);
  expect(stats.rateLimited).toBeLessThan(16 * 4 * 1.5);
});

test('Retry-After is honoured: with zero backoff jitter, a throttled call waits for the window instead of hammering', async () => {
  const s = await serve({ rpm: 1, windowMs: 400 });
  const client = new LlmClient({ connection: azure(s.url), random: () => 0 });
  await client.chat(ask('first'));
  const r = await client.chat(ask('second'));
  expect(r.attempts).toBe(2);
  expect(s.stats().rateLimited).toBe(1);
});

test('injected 500s and dropped connections are retried until every call succeeds', async () => {
  const s = await serve({ faultRate: 0.4, seed: 7 });
  const client = new LlmClient({ connection: azure(s.url), retry: { baseDelayMs: 5 } });
  const results = await Promise.all(Array.from({ length: 30 }, (_, i) => client.chat(ask(`q${i}`))));
  expect(results).toHaveLength(30);
  const stats = s.stats();
  expect(stats.serverErrors).toBeGreaterThan(0);
  expect(stats.dropped).toBeGreaterThan(0);
  expect(stats.byStatus['200']).toBe(30);
});

test('a 400 is not retried and surfaces as LlmHttpError with the service message and code', async () => {
  const s = await serve({
    rules: [
      { match: 'forbidden', error: { status: 400, message: 'The response was filtered', code: 'content_filter' } },
    ],
  });
  const client = new LlmClient({ connection: azure(s.url) });
  const err = (await client.chat(ask('something forbidden')).catch((e: unknown) => e)) as LlmHttpError;
  expect(err).toBeInstanceOf(LlmHttpError);
  expect(err.status).toBe(400);
  expect(err.code).toBe('content_filter');
  expect(err.message).toMatch(/HTTP 400 \(content_filter\): The response was filtered/);
  expect(s.stats().requests).toBe(1);
});

test('429 insufficient_quota is not retried', async () => {
  const s = await serve({
    rules: [
      { match: '.', error: { status: 429, message: 'You exceeded your current quota', code: 'insufficient_quota' } },
    ],
  });
  const client = new LlmClient({ connection: azure(s.url) });
  await expect(client.chat(ask('x'))).rejects.toThrow(/insufficient_quota/);
  expect(s.stats().requests).toBe(1);
});

test('after the retry budget: a ServiceError (exit code 3) with the last status', async () => {
  const s = await serve({ rules: [{ match: '.', error: { status: 503, message: 'overloaded' } }] });
  const client = new LlmClient({ connection: azure(s.url), retry: { maxRetries: 2, baseDelayMs: 1 } });
  const err = (await client.chat(ask('x')).catch((e: unknown) => e)) as LlmRetriesExhaustedError;
  expect(err).toBeInstanceOf(LlmRetriesExhaustedError);
  expect(err).toBeInstanceOf(ServiceError);
  expect(exitCodeOf(err)).toBe(3);
  expect(err.status).toBe(503);
  expect(err.attempts).toBe(3);
  expect(s.stats().requests).toBe(3);
});

test('a request slower than the timeout is abandoned and retried', async () => {
  const s = await serve({ latencyMs: 300 });
  const client = new LlmClient({ connection: azure(s.url), timeoutMs: 50, retry: { maxRetries: 1, baseDelayMs: 1 } });
  const err = (await client.chat(ask('slow')).catch((e: unknown) => e)) as LlmRetriesExhaustedError;
  expect(err).toBeInstanceOf(LlmRetriesExhaustedError);
  expect(err.lastFailure.kind).toBe('timeout');
  expect(s.stats().requests).toBe(2);
});

test('chatStream yields the chunks and the usage when the stream ends', async () => {
  const s = await serve();
  const client = new LlmClient({ connection: azure(s.url) });
  const stream = await chatStream(client, ask('stream me please'));
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  expect(text).toBe('user: stream me please');
  expect(stream.usage?.completionTokens).toBeGreaterThan(0);
  expect(stream.latencyMs).toBeGreaterThanOrEqual(stream.firstByteMs);
});

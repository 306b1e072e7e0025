/**
 * Fail fast on an unreachable model endpoint: unknown hosts are not retried, refused connections get a short
 * budget, a per-endpoint circuit breaker fails the remaining calls at once, and bad base URLs are configuration
 * errors. 429 and 5xx keep their retries (client.test.ts).
 */
import { createServer } from 'node:net';
import { ConfigError, exitCodeOf } from '../../src/shared/errors.js';
import { LlmClient } from '../../src/shared/llm/client.js';
import { EndpointUnreachableError } from '../../src/shared/llm/errors.js';
import { LimiterRegistry } from '../../src/shared/llm/limiter.js';
import { endpointUrlProblem } from '../../src/shared/llm/endpoint-url.js';
import { startModelServer } from '../../src/model-server/index.js';

/** A loopback port nothing listens on (bound, then closed). */
export async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

const ask = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] };
const openai = (base: string) => ({ type: 'open_ai' as const, api_key: 'k', base_url: base });

test('a refused connection: a short retry budget, then one clear exit-3 error', async () => {
  const port = await deadPort();
  const client = new LlmClient({ connection: openai(`http://127.0.0.1:${port}/v1`) });
  const started = performance.now();
  const e = await client.chat(ask).catch((x) => x);
  expect(performance.now() - started).toBeLessThan(2000);
  expect(e).toBeInstanceOf(EndpointUnreachableError);
  expect(exitCodeOf(e)).toBe(3);
  expect(e.message).toBe(
    `model endpoint http://127.0.0.1:${port} is unreachable (ECONNREFUSED: nothing accepts connections at that address and port); gave up after 3 attempts. Check that the endpoint is running and the connection's api_base/base_url is right.`,
  );
});

test('an unknown host is not retried', async () => {
  const client = new LlmClient({ connection: openai('http://no-such-host.invalid/v1') });
  const started = performance.now();
  const e = await client.chat(ask).catch((x) => x);
  expect(performance.now() - started).toBeLessThan(10_000);
  expect(e).toBeInstanceOf(EndpointUnreachableError);
  expect(['ENOTFOUND', 'EAI_AGAIN']).toContain(e.code);
  expect(e.attempts).toBe(1);
  expect(e.message).toMatch(
    /^model endpoint http:\/\/no-such-host\.invalid is unreachable \((ENOTFOUND|EAI_AGAIN): .*\); not retried\./,
  );
});

test('the circuit breaker: after 5 connection failures in a row, the remaining 1000 calls fail at once with one message', async () => {
  const port = await deadPort();
  let sent = 0;
  const client = new LlmClient({
    connection: openai(`http://127.0.0.1:${port}/v1`),
    retry: { connectDelayMs: 20 },
    fetch: (input, init) => {
      sent++;
      return fetch(input, init);
    },
  });
  const started = performance.now();
  const errors = await Promise.all(Array.from({ length: 1000 }, () => client.chat(ask).catch((x) => x)));
  expect(performance.now() - started).toBeLessThan(3000);
  expect(errors.every((e) => e instanceof EndpointUnreachableError)).toBe(true);
  const messages = new Set(errors.filter((e) => e.circuitOpen).map((e) => e.message));
  expect([...messages]).toEqual([
    `model endpoint http://127.0.0.1:${port} is unreachable (ECONNREFUSED: nothing accepts connections at that address and port); 5 connection attempts in a row failed, so the remaining calls to it fail at once. Check that the endpoint is running and the connection's api_base/base_url is right.`,
  ]);
  // Only the calls already in flight when it opened reached the network (64 at a time, the limiter's ceiling).
  expect(sent).toBeLessThan(64 * 3 + 10);
});

test('half-open: after the cool-down one probe goes through, and an endpoint that came back closes the circuit', async () => {
  const server = await startModelServer({});
  const port = Number(new URL(server.url).port);
  await server.close();
  const limiters = new LimiterRegistry(64, { threshold: 2, coolDownMs: 200 });
  const client = new LlmClient({
    connection: openai(`http://127.0.0.1:${port}/v1`),
    limiters,
    retry: { connectRetries: 0 },
  });
  await client.chat(ask).catch(() => undefined);
  await client.chat(ask).catch(() => undefined);
  const open = await client.chat(ask).catch((x) => x);
  expect(open.circuitOpen).toBe(true);
  const back = await startModelServer({ port });
  try {
    await new Promise((r) => setTimeout(r, 250));
    const r = await client.chat(ask);
    expect(r.response.choices[0].message.content).toBe('user: hi');
    expect(limiters.unreachable()).toEqual([]);
  } finally {
    await back.close();
  }
});

const BAD_URLS: [string, RegExp][] = [
  ['http://127.0.0.1:/v1', /found port "" in "http:\/\/127\.0\.0\.1:\/v1", expected a number \(or no ":"\)/],
  ['http://localhost:abc', /found port "abc"/],
  ['http://localhost:99999', /found port 99999 in "http:\/\/localhost:99999", expected 1-65535/],
  ['ftp://models.example.com', /found scheme "ftp"/],
  ['models.example.com/v1', /expected an absolute URL/],
  ['http:///v1', /found no host in "http:\/\/\/v1"/],
  ['https://user:pw@x.openai.azure.com', /found credentials in the URL/],
  ['', /found nothing/],
];

test.each(BAD_URLS)('base URL %p is a configuration error at load', (url, expected) => {
  expect(endpointUrlProblem(url)).toMatch(expected);
  const e = (() => {
    try {
      new LlmClient({ connection: { type: 'azure_open_ai', api_base: url, api_key: 'k' } });
    } catch (x) {
      return x;
    }
  })();
  expect(e).toBeInstanceOf(ConfigError);
  expect(exitCodeOf(e)).toBe(2);
});

test('good base URLs pass', () => {
  for (const u of [
    'http://127.0.0.1:8080/v1',
    'https://x.openai.azure.com/',
    'http://[::1]:9000',
    'https://api.openai.com/v1',
  ])
    expect(endpointUrlProblem(u)).toBeUndefined();
});

test('property: any text is either a usable http(s) base URL or a one-line reason, never an exception', async () => {
  const fc = (await import('fast-check')).default;
  const urlish = fc
    .tuple(
      fc.constantFrom('http://', 'https://', 'ftp://', 'http:', '', 'HTTP://'),
      fc.string(),
      fc.constantFrom('', ':', ':80', ':0', ':65536', ':8x'),
      fc.constantFrom('', '/v1', '?q', '#f'),
    )
    .map((p) => p.join(''));
  fc.assert(
    fc.property(fc.oneof(fc.string(), urlish, fc.webUrl()), (text) => {
      const problem = endpointUrlProblem(text);
      if (problem !== undefined) return typeof problem === 'string' && !problem.includes('\n');
      const u = new URL(text.trim());
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
    }),
    { numRuns: 2000 },
  );
});

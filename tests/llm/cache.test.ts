import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exitCodeOf } from '../../src/shared/errors.js';
import { ReplayMissError, ResponseCache, stableStringify, type CacheKeyParts } from '../../src/shared/llm/cache.js';
import { LlmClient } from '../../src/shared/llm/client.js';
import { startModelServer } from '../../src/model-server/index.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'llmops-cache-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const parts = (content: string, extra: Record<string, unknown> = {}): CacheKeyParts => ({
  provider: 'azure_openai',
  endpoint: 'http://127.0.0.1:1',
  model: 'gpt-4o',
  body: { model: 'gpt-4o', messages: [{ role: 'user', content }], ...extra },
});

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath ?? (d as unknown as { path: string }).path, d.name));
}

test('keys ignore key order but not values; hit after put, miss before', async () => {
  const cache = new ResponseCache({ root });
  expect(stableStringify({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe(
    '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}',
  );
  const a = cache.keyOf({
    ...parts('hi'),
    body: { temperature: 0, model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] },
  });
  const b = cache.keyOf({
    ...parts('hi'),
    body: { messages: [{ content: 'hi', role: 'user' }], model: 'gpt-4o', temperature: 0 },
  });
  expect(a).toBe(b);
  expect(cache.keyOf(parts('hi', { temperature: 1 }))).not.toBe(cache.keyOf(parts('hi', { temperature: 0 })));
  expect(cache.keyOf({ ...parts('hi'), endpoint: 'http://other' })).not.toBe(cache.keyOf(parts('hi')));
  expect(await cache.get(a, parts('hi'))).toBeUndefined();
  await cache.put(a, parts('hi'), { answer: 42 });
  expect(await cache.get(a, parts('hi'))).toEqual({ answer: 42 });
  expect(files(root)).toEqual([join(root, a.slice(0, 2), `${a}.json`)]);
});

test('concurrent writers of the same and different keys leave only complete files', async () => {
  const writers = [new ResponseCache({ root }), new ResponseCache({ root }), new ResponseCache({ root })];
  const big = 'x'.repeat(200_000);
  const jobs: Promise<void>[] = [];
  for (let i = 0; i < 60; i++) {
    const p = parts(`q${i % 10}`);
    const w = writers[i % 3];
    jobs.push(w.put(w.keyOf(p), p, { i: i % 10, big }));
  }
  await Promise.all(jobs);
  const all = files(root);
  expect(all).toHaveLength(10);
  for (const f of all) {
    const entry = JSON.parse(readFileSync(f, 'utf8')) as { response: { big: string } };
    expect(entry.response.big).toHaveLength(200_000);
  }
});

test('entries older than the TTL are misses', async () => {
  let now = 1_000_000;
  const cache = new ResponseCache({ root, ttlMs: 1000, now: () => now });
  const key = cache.keyOf(parts('hi'));
  await cache.put(key, parts('hi'), { ok: true });
  now += 999;
  expect(await cache.get(key, parts('hi'))).toEqual({ ok: true });
  now += 2;
  expect(await cache.get(key, parts('hi'))).toBeUndefined();
  expect(files(root)).toHaveLength(0);
});

test('beyond the size limit the oldest entries are evicted', async () => {
  const cache = new ResponseCache({ root, maxBytes: 5000 });
  const keys: string[] = [];
  for (let i = 0; i < 10; i++) {
    const p = parts(`q${i}`);
    keys.push(cache.keyOf(p));
    await cache.put(keys[i], p, { pad: 'y'.repeat(900) });
    await new Promise((r) => setTimeout(r, 5)); // distinct modification times
  }
  const total = files(root).reduce((s, f) => s + readFileSync(f).length, 0);
  expect(total).toBeLessThanOrEqual(5000);
  expect(await cache.get(keys[9], parts('q9'))).toBeDefined();
  expect(await cache.get(keys[0], parts('q0'))).toBeUndefined();
});

test('modes: read never stores, write never reads, off does neither', async () => {
  const p = parts('hi');
  const reader = new ResponseCache({ root, mode: 'read' });
  const key = reader.keyOf(p);
  await reader.put(key, p, { a: 1 });
  expect(files(root)).toHaveLength(0);
  const writer = new ResponseCache({ root, mode: 'write' });
  await writer.put(key, p, { a: 1 });
  expect(await writer.get(key, p)).toBeUndefined();
  expect(await reader.get(key, p)).toEqual({ a: 1 });
  expect(await new ResponseCache({ root, mode: 'off' }).get(key, p)).toBeUndefined();
});

test('replay: a miss names the model, the start of the last message and the key (exit code 2)', async () => {
  const cache = new ResponseCache({ root, mode: 'replay' });
  const long = `Summarise: ${'word '.repeat(40)}`;
  const p = parts(long);
  const err = (await cache.get(cache.keyOf(p), p).catch((e: unknown) => e)) as ReplayMissError;
  expect(err).toBeInstanceOf(ReplayMissError);
  expect(err.message).toContain('model "gpt-4o"');
  expect(err.message).toContain(`"${long.slice(0, 80)}"`);
  expect(err.message).not.toContain(long.slice(0, 81));
  expect(err.message).toContain(cache.keyOf(p));
  expect(exitCodeOf(err)).toBe(2);
});

test('through the client: a hit costs no tokens and no request; errors are never cached; replay never calls out', async () => {
  const server = await startModelServer({ rules: [{ match: 'fail', error: { status: 400, message: 'nope' } }] });
  try {
    const connection = { type: 'azure_open_ai' as const, api_base: server.url, api_key: 'k' };
    const client = new LlmClient({ connection, cache: new ResponseCache({ root }) });
    const body = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }] };
    const first = await client.chat(body);
    const second = await client.chat(body);
    expect(first.cached).toBe(false);
    expect(second).toMatchObject({
      cached: true,
      attempts: 0,
      usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0 },
    });
    expect(second.response).toEqual(first.response);
    expect(server.stats().requests).toBe(1);

    const bad = { model: 'gpt-4o', messages: [{ role: 'user', content: 'fail please' }] };
    await expect(client.chat(bad)).rejects.toThrow(/nope/);
    await expect(client.chat(bad)).rejects.toThrow(/nope/);
    expect(server.stats().requests).toBe(3);

    const replay = new LlmClient({ connection, cache: new ResponseCache({ root, mode: 'replay' }) });
    expect((await replay.chat(body)).cached).toBe(true);
    await expect(replay.chat({ ...body, temperature: 0 })).rejects.toBeInstanceOf(ReplayMissError);
    expect(server.stats().requests).toBe(3);
  } finally {
    await server.close();
  }
});

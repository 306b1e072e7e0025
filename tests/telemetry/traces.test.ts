/**
 * Telemetry of bulk runs and served requests, exported over OTLP/HTTP to a loopback receiver that decodes the
 * protobuf payloads with the official proto definitions; the model is the local model server.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection } from '../../src/shared/config/connections.js';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { runBatch } from '../../src/shared/runs/index.js';
import { startFlowServer } from '../../src/shared/serve/index.js';
import { createRedactor } from '../../src/shared/safety/redactor.js';
import { redactTelemetryContent, startTelemetry, telemetry } from '../../src/shared/telemetry/index.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp/receiver.js';

const CHAT = 'tests/serve/fixtures/chat';
let model: ModelServerHandle;
let receiver: OtlpReceiver;
let conn: Connection;
const modelLog: string[] = [];

beforeAll(async () => {
  model = await startModelServer({
    log: (l) => void modelLog.push(l),
    rules: [{ match: 'explode', error: { status: 400, message: 'refused on purpose', code: 'content_filter' } }],
  });
  conn = {
    name: 'conn',
    type: 'AzureOpenAIConnection',
    value: { api_key: 'model-key-123', api_base: model.url },
    secretKeys: ['api_key'],
  };
});
beforeEach(async () => {
  receiver = await startOtlpReceiver();
});
afterEach(async () => {
  await receiver.close();
});
afterAll(async () => {
  await model.close();
});

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_SERVICE_NAME: 'llmops-test',
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test',
    ...extra,
  };
}

const childrenOf = (spans: ReceivedSpan[], parent: ReceivedSpan) =>
  spans.filter((s) => s.parentSpanId === parent.spanId && s.traceId === parent.traceId);

test('a bulk run sends a trace per line, with node and model-call children carrying the GenAI attributes, and its metrics', async () => {
  const store = mkdtempSync(join(tmpdir(), 'llmops-otel-'));
  const data = join(store, 'data.jsonl');
  writeFileSync(
    data,
    ['first question', 'second question', 'please explode'].map((q) => JSON.stringify({ question: q })).join('\n'),
  );
  const handle = await startTelemetry({ env: env() });
  expect(handle).toBeDefined();
  const summary = await runBatch({
    flow: CHAT,
    data,
    storeRoot: store,
    connections: [conn],
    concurrency: 2,
    runId: 'otel_run_1',
  });
  await handle!.shutdown();
  expect(telemetry).toBeUndefined();
  expect(summary.counts).toEqual({ total: 3, completed: 2, failed: 1 });

  const spans = receiver.spans;
  const lines = spans.filter((s) => s.name === 'llmops.line');
  expect(lines).toHaveLength(3);
  // One trace per line, each a root.
  expect(new Set(lines.map((l) => l.traceId)).size).toBe(3);
  expect(lines.every((l) => l.parentSpanId === '')).toBe(true);
  expect(lines.map((l) => l.attributes['llmops.line.number']).sort()).toEqual([0, 1, 2]);
  for (const l of lines)
    expect(l.attributes).toMatchObject({
      'llmops.run.id': 'otel_run_1',
      'llmops.dataset': 'data.jsonl',
      'llmops.flow': expect.any(String),
    });
  expect(lines[0].resource).toMatchObject({ 'service.name': 'llmops-test', 'deployment.environment': 'test' });

  const ok = lines.find((l) => l.attributes['llmops.line.number'] === 0)!;
  expect(ok.status.code).not.toBe('STATUS_CODE_ERROR');
  const [node] = childrenOf(spans, ok);
  expect(node).toMatchObject({ name: 'llmops.node chat', attributes: { 'llmops.node': 'chat' } });
  const [call] = childrenOf(spans, node);
  expect(call.kind).toBe('SPAN_KIND_CLIENT');
  expect(call.name).toBe('chat gpt-4o-mini');
  expect(call.attributes).toMatchObject({
    'gen_ai.operation.name': 'chat',
    'gen_ai.system': 'az.ai.openai',
    'gen_ai.request.model': 'gpt-4o-mini',
    'gen_ai.request.max_tokens': 256,
    'gen_ai.response.model': expect.any(String),
    'gen_ai.usage.input_tokens': expect.any(Number),
    'gen_ai.usage.output_tokens': expect.any(Number),
    'gen_ai.response.finish_reasons': ['stop'],
  });
  expect(call.attributes['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
  // Content is not captured unless asked for.
  expect(call.attributes['gen_ai.input.messages']).toBeUndefined();

  const failed = lines.find((l) => l.attributes['llmops.line.number'] === 2)!;
  expect(failed.status.code).toBe('STATUS_CODE_ERROR');
  expect(failed.attributes['error.type']).toEqual(expect.any(String));
  const failedCall = childrenOf(spans, childrenOf(spans, failed)[0])[0];
  expect(failedCall.status.code).toBe('STATUS_CODE_ERROR');
  expect(failedCall.attributes['error.type']).toEqual(expect.any(String));

  // Metrics were flushed at shutdown.
  const names = new Set(receiver.metrics.map((m) => m.name));
  for (const n of [
    'llmops.line.duration',
    'llmops.node.duration',
    'gen_ai.client.operation.duration',
    'gen_ai.client.token.usage',
    'llmops.errors',
  ])
    expect(names).toContain(n);
  const lineDuration = receiver.metrics.filter((m) => m.name === 'llmops.line.duration').flatMap((m) => m.points);
  expect(lineDuration.reduce((n, p) => n + (p.count ?? 0), 0)).toBe(3);
  const tokens = receiver.metrics.filter((m) => m.name === 'gen_ai.client.token.usage').flatMap((m) => m.points);
  expect(tokens.map((p) => p.attributes['gen_ai.token.type']).sort()).toEqual(['input', 'output']);
  expect(receiver.requests.every((r) => r.contentType === 'application/x-protobuf')).toBe(true);
});

test('a served request joins the caller trace, and its model call carries the trace on to the model', async () => {
  const handle = await startTelemetry({ env: env() });
  const server = await startFlowServer({ flow: CHAT, connections: [conn], port: 0 });
  const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
  const callerSpan = '00f067aa0ba902b7';
  modelLog.length = 0;
  try {
    const r = await fetch(`${server.url}/score`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${callerTrace}-${callerSpan}-01` },
      body: JSON.stringify({ question: 'hello there' }),
    });
    expect(r.status).toBe(200);
  } finally {
    await server.close();
    await handle!.shutdown();
  }
  const spans = receiver.spans.filter((s) => s.traceId === callerTrace);
  const request = spans.find((s) => s.name === 'POST /score')!;
  expect(request).toMatchObject({ kind: 'SPAN_KIND_SERVER', parentSpanId: callerSpan });
  expect(request.attributes).toMatchObject({ 'http.route': '/score', 'http.response.status_code': 200 });
  const [line] = childrenOf(spans, request);
  expect(line.name).toBe('llmops.line');
  const call = childrenOf(spans, childrenOf(spans, line)[0])[0];
  expect(call.attributes['gen_ai.operation.name']).toBe('chat');
  // The model server saw the model call's own span as the parent of whatever it does.
  const seen = modelLog.map((l) => /traceparent=(\S+)/.exec(l)?.[1]).filter(Boolean);
  expect(seen).toEqual([`00-${callerTrace}-${call.spanId}-01`]);
  // The server's metrics.
  const names = new Set(receiver.metrics.map((m) => m.name));
  expect(names).toContain('http.server.request.duration');
  expect(names).toContain('http.server.active_requests');
});

test('the serving cache reports what it did for each request: on its span and in a counter by result', async () => {
  const handle = await startTelemetry({ env: env() });
  const server = await startFlowServer({ flow: CHAT, connections: [conn], port: 0, cache: {} });
  const ask = (headers: Record<string, string> = {}) =>
    fetch(`${server.url}/score`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ question: 'is this cached?' }),
    }).then(async (r) => {
      await r.text();
      return r.headers.get('x-llmops-cache');
    });
  try {
    expect(await ask()).toBe('miss');
    expect(await ask()).toBe('hit');
    expect(await ask()).toBe('hit');
    expect(await ask({ 'cache-control': 'no-cache' })).toBe('bypass');
  } finally {
    await server.close();
    await handle!.shutdown();
  }
  const byResult = new Map<unknown, number>();
  for (const p of receiver.metrics.filter((m) => m.name === 'llmops.serve.cache.requests').flatMap((m) => m.points))
    byResult.set(
      p.attributes['llmops.cache.result'],
      (byResult.get(p.attributes['llmops.cache.result']) ?? 0) + (p.value ?? 0),
    );
  expect(Object.fromEntries(byResult)).toEqual({ hit: 2, miss: 1, bypass: 1 });
  const served = receiver.spans.filter((s) => s.name === 'POST /score' && s.attributes['llmops.cache.result']);
  expect(served.map((s) => s.attributes['llmops.cache.result']).sort()).toEqual(['bypass', 'hit', 'hit', 'miss']);
});

test('a sampler that keeps no traces still leaves every line in the metrics, and served calls unsampled', async () => {
  const store = mkdtempSync(join(tmpdir(), 'llmops-otel-'));
  const data = join(store, 'data.jsonl');
  writeFileSync(data, ['a', 'b', 'c', 'd'].map((q) => JSON.stringify({ question: q })).join('\n'));
  const handle = await startTelemetry({
    env: env({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' }),
  });
  modelLog.length = 0;
  const summary = await runBatch({ flow: CHAT, data, storeRoot: store, connections: [conn], concurrency: 2 });
  await handle!.shutdown();
  expect(summary.counts.completed).toBe(4);
  expect(receiver.spans).toEqual([]);
  const lineDuration = receiver.metrics.filter((m) => m.name === 'llmops.line.duration').flatMap((m) => m.points);
  expect(lineDuration.reduce((n, p) => n + (p.count ?? 0), 0)).toBe(4);
  // The model is told the calls were not sampled (flags 00), so it does not keep them either.
  const seen = modelLog.map((l) => /traceparent=(\S+)/.exec(l)?.[1]).filter(Boolean);
  expect(seen).toHaveLength(4);
  for (const t of seen) expect(t).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
});

test('a streamed answer is traced too, its model call carrying the trace to the model', async () => {
  const handle = await startTelemetry({ env: env() });
  const server = await startFlowServer({ flow: CHAT, connections: [conn], port: 0 });
  modelLog.length = 0;
  try {
    const r = await fetch(`${server.url}/score`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ question: 'stream this' }),
    });
    expect(r.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await r.text();
  } finally {
    await server.close();
    await handle!.shutdown();
  }
  const request = receiver.spans.find((s) => s.name === 'POST /score')!;
  expect(request.parentSpanId).toBe('');
  const spans = receiver.spans.filter((s) => s.traceId === request.traceId);
  const call = spans.find((s) => s.attributes['gen_ai.operation.name'] === 'chat')!;
  expect(call.attributes['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
  const seen = modelLog.map((l) => /traceparent=(\S+)/.exec(l)?.[1]).filter(Boolean);
  expect(seen).toEqual([`00-${request.traceId}-${call.spanId}-01`]);
});

test('prompts and completions are captured only when asked, and then masked', async () => {
  const handle = await startTelemetry({
    env: env({ OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'true' }),
    secrets: () => ['sekret-value'],
    redact: (t) => t.replace(/[\w.]+@[\w.]+/g, '<EMAIL>'),
  });
  const server = await startFlowServer({ flow: CHAT, connections: [conn], port: 0 });
  try {
    const r = await fetch(`${server.url}/score`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ question: 'mail me at ann@example.com, password sekret-value' }),
    });
    expect(r.status).toBe(200);
  } finally {
    await server.close();
    await handle!.shutdown();
  }
  const call = receiver.spans.find((s) => s.attributes['gen_ai.operation.name'] === 'chat')!;
  const input = String(call.attributes['gen_ai.input.messages']);
  const output = String(call.attributes['gen_ai.output.messages']);
  expect(input).toContain('mail me at <EMAIL>, password ***');
  expect(output).toContain('<EMAIL>');
  for (const text of [input, output]) {
    expect(text).not.toContain('ann@example.com');
    expect(text).not.toContain('sekret-value');
  }
});

test('with personal data redacted, a span keeps its own end time and shutdown waits for its redaction', async () => {
  const leaky = await startModelServer({
    rules: [
      { match: 'leak', error: { status: 400, message: 'refused: ask carol@contoso.org', code: 'content_filter' } },
    ],
  });
  const handle = await startTelemetry({ env: env({ OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'true' }) });
  // The use case's redactor (it takes example.com addresses for placeholders, so real-looking ones), made slow: the spans must still end when their calls did.
  const pii = createRedactor(['email']);
  const slowMs = 400;
  redactTelemetryContent(async (text) => {
    await new Promise((resolve) => setTimeout(resolve, slowMs));
    return pii.redact(text);
  });
  const server = await startFlowServer({
    flow: CHAT,
    connections: [{ ...conn, value: { ...conn.value, api_base: leaky.url } }],
    port: 0,
  });
  try {
    for (const question of ['mail me at ann.lee@contoso.org', 'leak bob@fabrikam.net']) {
      const r = await fetch(`${server.url}/score`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ question }),
      });
      expect(r.status).toBe(question.startsWith('leak') ? 400 : 200);
    }
  } finally {
    await server.close();
    await handle!.shutdown();
    await leaky.close();
  }
  const calls = receiver.spans.filter((s) => s.attributes['gen_ai.operation.name'] === 'chat');
  expect(calls).toHaveLength(2);
  const [ok, failed] = calls.sort((a, b) => Number(BigInt(a.startTimeUnixNano) - BigInt(b.startTimeUnixNano)));
  expect(String(ok.attributes['gen_ai.input.messages'])).toMatch(/mail me at \[EMAIL_\d+\]/);
  expect(String(ok.attributes['gen_ai.output.messages'])).toMatch(/\[EMAIL_\d+\]/);
  expect(failed.status).toEqual({ code: 'STATUS_CODE_ERROR', message: expect.stringMatching(/ask \[EMAIL_\d+\]/) });
  expect(failed.attributes['error.type']).toBeDefined();
  const exported = JSON.stringify(receiver.spans);
  for (const email of ['ann.lee@contoso.org', 'bob@fabrikam.net', 'carol@contoso.org'])
    expect(exported).not.toContain(email);
  // Each call span ends when its call did, not when its redaction finished.
  for (const call of calls) {
    const ms = Number(BigInt(call.endTimeUnixNano) - BigInt(call.startTimeUnixNano)) / 1e6;
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThan(slowMs);
  }
});

test('429s, retries and cache hits are counted', async () => {
  const limited = await startModelServer({ rpm: 2, windowMs: 400 });
  const store = mkdtempSync(join(tmpdir(), 'llmops-otel-'));
  const data = join(store, 'data.jsonl');
  writeFileSync(data, ['a', 'b', 'c', 'd'].map((q) => JSON.stringify({ question: q })).join('\n'));
  const limitedConn = { ...conn, value: { ...conn.value, api_base: limited.url } };
  const handle = await startTelemetry({ env: env() });
  try {
    const run = (runId: string) =>
      runBatch({
        flow: CHAT,
        data,
        storeRoot: store,
        connections: [limitedConn],
        concurrency: 4,
        cacheMode: 'readwrite',
        runId,
      });
    expect((await run('limited_1')).counts.completed).toBe(4);
    // The same lines again: every answer comes from the response cache.
    expect((await run('limited_2')).counts.completed).toBe(4);
  } finally {
    await handle!.shutdown();
    await limited.close();
  }
  const total = (name: string) =>
    receiver.metrics
      .filter((m) => m.name === name)
      .flatMap((m) => m.points)
      .reduce((n, p) => n + (p.value ?? 0), 0);
  expect(limited.stats().rateLimited).toBeGreaterThan(0);
  expect(total('llmops.llm.throttled')).toBe(limited.stats().rateLimited);
  expect(total('llmops.llm.retries')).toBe(limited.stats().rateLimited);
  expect(total('llmops.llm.cache.hits')).toBe(4);
  const cached = receiver.spans.filter((s) => s.attributes['llmops.cache.hit'] === true);
  expect(cached).toHaveLength(4);
});

test('a collector that is down does not fail the run: a warning, within the time limit', async () => {
  await receiver.close();
  const store = mkdtempSync(join(tmpdir(), 'llmops-otel-'));
  const data = join(store, 'data.jsonl');
  writeFileSync(data, JSON.stringify({ question: 'q' }));
  const warnings: string[] = [];
  const handle = await startTelemetry({
    env: env({ OTEL_EXPORTER_OTLP_TIMEOUT: '1000', OTEL_EXPORTER_OTLP_HEADERS: 'api-key=collector-secret' }),
    warn: (m) => void warnings.push(m),
  });
  const summary = await runBatch({ flow: CHAT, data, storeRoot: store, connections: [conn] });
  expect(summary.status).toBe('Completed');
  const started = Date.now();
  await handle!.shutdown(3000);
  expect(Date.now() - started).toBeLessThan(4000);
  // The first failed export is a warning at once; a flush that runs out of time is one more.
  expect(warnings.length).toBeGreaterThanOrEqual(1);
  expect(warnings.length).toBeLessThanOrEqual(2);
  for (const w of warnings) {
    expect(w).toMatch(/^telemetry could not be sent to http:\/\/127\.0\.0\.1:\d+: /);
    expect(w).not.toContain('collector-secret');
  }
  receiver = await startOtlpReceiver(); // for afterEach
});

test('requests that waited for the same inputs are counted as coalesced', async () => {
  const slow = await startModelServer({ latencyMs: 1_000 });
  const handle = await startTelemetry({ env: env() });
  const server = await startFlowServer({
    flow: CHAT,
    connections: [{ ...conn, value: { ...conn.value, api_base: slow.url } }],
    port: 0,
    cache: {},
  });
  try {
    const answers = await Promise.all(
      Array.from({ length: 4 }, () =>
        fetch(`${server.url}/score`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ question: 'asked four times at once' }),
        }).then(async (r) => (await r.text(), r.headers.get('x-llmops-cache'))),
      ),
    );
    expect(answers.sort()).toEqual(['coalesced', 'coalesced', 'coalesced', 'miss']);
  } finally {
    await server.close();
    await handle!.shutdown();
    await slow.close();
  }
  const byResult = new Map<unknown, number>();
  for (const p of receiver.metrics.filter((m) => m.name === 'llmops.serve.cache.requests').flatMap((m) => m.points))
    byResult.set(
      p.attributes['llmops.cache.result'],
      (byResult.get(p.attributes['llmops.cache.result']) ?? 0) + (p.value ?? 0),
    );
  expect(Object.fromEntries(byResult)).toEqual({ coalesced: 3, miss: 1 });
});

/** The opt-in request log of flow serve: sampled, redacted, written after the answer, off unless asked for. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ModelServerHandle } from '../../src/model-server/index.js';
import type { Connection } from '../../src/shared/config/connections.js';
import { openRequestLog, RequestLog, requestLogFromEnv, startFlowServer } from '../../src/shared/serve/index.js';
import { FIX, modelServer, post } from './helpers.js';

let dir: string;
let model: ModelServerHandle;
let conn: Connection;
beforeAll(async () => {
  ({ model, conn } = await modelServer());
  dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-request-log-'));
});
afterAll(async () => {
  await model.close();
  rmSync(dir, { recursive: true, force: true });
});

const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test('completed requests, JSON and streamed, as inputs.* / outputs.* columns; secrets and named fields redacted', async () => {
  const file = path.join(dir, 'logs', 'requests.jsonl');
  const server = await startFlowServer({
    flow: `${FIX}/chat`,
    connections: [conn],
    port: 0,
    log: () => undefined,
    apiKey: 'server-key-987',
    requestLog: { file, redactFields: ['customer'] },
  });
  const auth = { authorization: 'Bearer server-key-987', 'content-type': 'application/json' };
  try {
    const body = { question: 'is model-key-123 or server-key-987 valid?', customer: { name: 'Ana', tier: 2 } };
    expect((await post(`${server.url}/score`, JSON.stringify(body), { ...auth, 'x-request-id': 'r-1' })).status).toBe(
      200,
    );
    const streamed = await post(`${server.url}/score`, JSON.stringify({ question: 'Hi' }), {
      ...auth,
      accept: 'text/event-stream',
      'x-request-id': 'r-2',
    });
    expect(streamed.type).toContain('text/event-stream');
    // A failed request (missing input) is not a served answer: not logged.
    expect((await post(`${server.url}/score`, '{}', { ...auth, 'x-request-id': 'r-3' })).status).toBe(400);
  } finally {
    await server.close();
  }
  const logged = lines(file);
  expect(logged.map((l) => l.request_id)).toEqual(['r-1', 'r-2']);
  expect(logged[0]).toEqual({
    time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    request_id: 'r-1',
    status: 200,
    latency_ms: expect.any(Number),
    tokens: { prompt: expect.any(Number), completion: expect.any(Number), total: expect.any(Number) },
    cost_usd: expect.any(Number),
    'inputs.question': 'is [REDACTED] or [REDACTED] valid?',
    'inputs.customer': '[REDACTED]',
    'inputs.style': 'terse',
    'outputs.answer': 'system: You are terse.\nuser: is [REDACTED] or [REDACTED] valid?',
    'outputs.question': 'is [REDACTED] or [REDACTED] valid?',
  });
  expect(logged[1]).toMatchObject({ 'inputs.question': 'Hi', 'outputs.answer': 'system: You are terse.\nuser: Hi' });
  expect(readFileSync(file, 'utf8')).not.toMatch(/model-key-123|server-key-987|Ana/);
});

test('sampling keeps a stable share of request ids; credential-named fields are always redacted', async () => {
  const file = path.join(dir, 'sampled.jsonl');
  const log = new RequestLog({ file, sampleRate: 0.25 });
  const ids = Array.from({ length: 2000 }, (_, i) => `req-${i}`);
  const kept = ids.filter((id) => log.sampled(id));
  expect(kept.length).toBeGreaterThan(400);
  expect(kept.length).toBeLessThan(600);
  expect(ids.filter((id) => log.sampled(id))).toEqual(kept); // the same ids every time
  const id = kept[0];
  log.record(id, { q: 'x', api_key: 'abcd1234', nested: [{ Password: 'p' }] }, { answer: 'y' });
  log.record(
    ids.find((i) => !log.sampled(i))!,
    { q: 'dropped' },
    {},
  );
  await log.close();
  expect(lines(file)).toEqual([
    {
      time: expect.any(String),
      request_id: id,
      'inputs.q': 'x',
      'inputs.api_key': '[REDACTED]',
      'inputs.nested': [{ Password: '[REDACTED]' }],
      'outputs.answer': 'y',
    },
  ]);
  const none = new RequestLog({ file: path.join(dir, 'none.jsonl'), sampleRate: 0 });
  expect(ids.some((i) => none.sampled(i))).toBe(false);
  await none.close();
});

test('configured by the environment; off without LLMOPS_REQUEST_LOG; a bad rate is refused', () => {
  expect(requestLogFromEnv({})).toBeUndefined();
  expect(
    requestLogFromEnv({
      LLMOPS_REQUEST_LOG: 'logs/r.jsonl',
      LLMOPS_REQUEST_LOG_SAMPLE: '0.1',
      LLMOPS_REQUEST_LOG_REDACT: 'email, phone',
    }),
  ).toEqual({ file: 'logs/r.jsonl', sampleRate: 0.1, redactFields: ['email', 'phone'] });
  // Who answers: LLMOPS_DEPLOYMENT (flow serve --deployment), else the Container Apps revision.
  expect(requestLogFromEnv({ LLMOPS_REQUEST_LOG: 'r.jsonl', LLMOPS_DEPLOYMENT: 'green' })?.deployment).toBe('green');
  expect(requestLogFromEnv({ LLMOPS_REQUEST_LOG: 'r.jsonl', CONTAINER_APP_REVISION: 'app--a1b2c3' })?.deployment).toBe(
    'app--a1b2c3',
  );
  expect(() => requestLogFromEnv({ LLMOPS_REQUEST_LOG: 'r.jsonl', LLMOPS_REQUEST_LOG_SAMPLE: '10%' })).toThrow(
    /LLMOPS_REQUEST_LOG_SAMPLE: found "10%", expected a share of requests from 0 to 1/,
  );
  // Without a log configured the server holds none: nothing runs per request.
  expect(openRequestLog({ connections: [conn], apiKey: 'k' })).toBeUndefined();
});

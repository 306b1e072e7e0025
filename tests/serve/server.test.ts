/** The flow server's HTTP contract (promptflow-formats.md §7.2) against the local model server. */
import type { ModelServerHandle } from '../../src/model-server/index.js';
import type { Connection } from '../../src/shared/config/connections.js';
import { startFlowServer, type FlowServer } from '../../src/shared/serve/index.js';
import { FIX, modelServer, post } from './helpers.js';

let model: ModelServerHandle;
let conn: Connection;
let chat: FlowServer;
let calc: FlowServer;
let echo: FlowServer;
const logs: string[] = [];

beforeAll(async () => {
  ({ model, conn } = await modelServer());
  const log = (l: string) => void logs.push(l);
  chat = await startFlowServer({ flow: `${FIX}/chat`, connections: [conn], port: 0, log });
  calc = await startFlowServer({ flow: `${FIX}/calc`, port: 0, log, maxBodyBytes: 1000 });
  echo = await startFlowServer({ flow: `${FIX}/echo`, port: 0, log });
});
afterAll(async () => {
  await Promise.all([chat.close(), calc.close(), echo.close()]);
  await model.close();
});

test('POST /score: outputs as JSON, defaults applied, evaluation_only outputs dropped', async () => {
  const r = await post(`${chat.url}/score`, JSON.stringify({ question: 'What is 2+2?' }), {
    'content-type': 'application/json',
  });
  expect(r.status).toBe(200);
  expect(r.type).toBe('application/json');
  // The default style "terse" reached the prompt; `debug` is evaluation_only and is not served.
  expect(r.json()).toEqual({ answer: 'system: You are terse.\nuser: What is 2+2?', question: 'What is 2+2?' });
});

test('GET /health and /version answer Prompt Flow shapes; every answer carries a request id', async () => {
  const h = await fetch(`${chat.url}/health`);
  expect(await h.json()).toEqual({ status: 'Healthy', version: '0.1.0' });
  expect(h.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  const v = await fetch(`${chat.url}/version`, { headers: { 'x-request-id': 'abc-123' } });
  expect(await v.json()).toMatchObject({ status: 'Healthy', version: '0.1.0', build_info: expect.any(String) });
  expect(v.headers.get('x-request-id')).toBe('abc-123');
});

test('streaming: Accept text/event-stream gives SSE, first event the non-stream fields, then the chunks', async () => {
  const r = await post(`${chat.url}/score`, JSON.stringify({ question: 'Hi there' }), { accept: 'text/event-stream' });
  expect(r.status).toBe(200);
  expect(r.type).toMatch(/^text\/event-stream/);
  // A proxy in front (nginx, an ingress) must not buffer the stream.
  expect(r.headers.get('x-accel-buffering')).toBe('no');
  const events = r.text
    .split('\n\n')
    .filter(Boolean)
    .map((e) => {
      expect(e.startsWith('data: ')).toBe(true);
      return JSON.parse(e.slice(6)) as Record<string, string>;
    });
  expect(events[0]).toEqual({ question: 'Hi there' });
  expect(events.length).toBeGreaterThan(3);
  expect(events.slice(1).every((e) => Object.keys(e).join() === 'answer')).toBe(true);
  expect(
    events
      .slice(1)
      .map((e) => e.answer)
      .join(''),
  ).toBe('system: You are terse.\nuser: Hi there');
});

test('a streaming flow asked for JSON answers JSON; a non-stream flow refuses an event-stream-only Accept with 406', async () => {
  const json = await post(`${chat.url}/score`, JSON.stringify({ question: 'Hi' }), {
    accept: 'application/json, text/plain',
  });
  expect(json.json()).toEqual({ answer: 'system: You are terse.\nuser: Hi', question: 'Hi' });
  const refused = await post(`${calc.url}/score`, '{"n": 1}', { accept: 'text/event-stream' });
  expect(refused.status).toBe(406);
  expect(refused.json()).toMatchObject({ error: { code: 'UserError' } });
  const either = await post(`${calc.url}/score`, '{"n": 1}', { accept: 'text/event-stream, */*' });
  expect(either.json()).toEqual({ value: 2, label: 'result' });
});

test.each([
  ['malformed JSON for a multi-input flow', '{"n": ', { 'content-type': 'application/json' }, 400, /not valid JSON/],
  ['text body for a multi-input flow', 'just text', {}, 415, /JsonPayloadRequiredForMultipleInputFields/],
  ['a JSON array', '[1, 2]', {}, 400, /a JSON array, expected a JSON object of flow inputs \(n, label\)/],
  ['a missing required input', '{"label": "x"}', {}, 400, /flow input 'n' is required \(type int\)/],
  ['a mistyped input', '{"n": "seven"}', {}, 400, /flow input 'n' must be of type int, found "seven"/],
  ['an oversize body', JSON.stringify({ n: 1, label: 'x'.repeat(2000) }), {}, 413, /limit of 1000 bytes/],
])('bad request: %s → the status and the UserError shape', async (_name, body, headers, status, message) => {
  const r = await post(`${calc.url}/score`, body, headers as Record<string, string>);
  expect(r.status).toBe(status);
  expect(r.json()).toEqual({ error: { code: 'UserError', message: expect.stringMatching(message) } });
});

test('unknown routes → 404, GET /score → 405; a failing python node → its Prompt Flow error', async () => {
  expect((await fetch(`${calc.url}/nope`)).status).toBe(404);
  const get = await fetch(`${calc.url}/score`);
  expect(get.status).toBe(405);
  expect(get.headers.get('allow')).toBe('POST');
  const failed = await post(`${calc.url}/score`, '{"n": -1}');
  expect(failed.status).toBe(400);
  expect(failed.json()).toEqual({
    error: { code: 'UserError', message: "Execution failure in 'double': (ValueError) n must not be negative" },
  });
});

test('a single-input flow takes a raw text body as its input', async () => {
  const r = await post(`${echo.url}/score`, 'hello, plain text', { 'content-type': 'text/plain' });
  expect(r.json()).toEqual({ echoed: 'hello, plain text' });
  const j = await post(`${echo.url}/score`, '{"text": "as json"}');
  expect(j.json()).toEqual({ echoed: 'as json' });
});

test('/metrics: Prometheus text with counts by status, the latency histogram and in-flight', async () => {
  await post(`${calc.url}/score`, '{"n": 2}');
  await post(`${calc.url}/score`, '{"n": "bad"}');
  const text = await (await fetch(`${calc.url}/metrics`)).text();
  expect(text).toMatch(/^# TYPE llmops_http_requests_total counter$/m);
  expect(text).toMatch(/^llmops_http_requests_total\{route="\/score",method="POST",status="200"\} [1-9]\d*$/m);
  expect(text).toMatch(/^llmops_http_requests_total\{route="\/score",method="POST",status="400"\} [1-9]\d*$/m);
  const count = Number(/^llmops_score_duration_seconds_count (\d+)$/m.exec(text)?.[1]);
  expect(count).toBeGreaterThanOrEqual(2);
  expect(text).toContain(`llmops_score_duration_seconds_bucket{le="+Inf"} ${count}`);
  expect(text).toMatch(/^llmops_http_requests_in_flight 1$/m); // the /metrics request itself
});

test('access logs: one JSON line per request with method, path, status, latency and id; never the body', async () => {
  const before = logs.length;
  await post(`${calc.url}/score`, '{"n": 21, "label": "SECRET-BODY-TEXT"}', { 'x-request-id': 'req-42' });
  await new Promise((r) => setTimeout(r, 20));
  const line = logs
    .slice(before)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l.requestId === 'req-42');
  expect(line).toMatchObject({
    level: 'info',
    msg: 'request',
    method: 'POST',
    path: '/score',
    status: 200,
    latencyMs: expect.any(Number),
  });
  expect(logs.join('\n')).not.toContain('SECRET-BODY-TEXT');
});

test('API key: /score and /metrics need Bearer or api-key; /health stays open; the key never reaches the logs', async () => {
  const seen: string[] = [];
  const s = await startFlowServer({
    flow: `${FIX}/calc`,
    port: 0,
    apiKey: 'k-0123456789',
    log: (l) => void seen.push(l),
  });
  try {
    expect((await post(`${s.url}/score`, '{"n": 1}')).status).toBe(401);
    const wrong = await post(`${s.url}/score`, '{"n": 1}', { authorization: 'Bearer nope' });
    expect(wrong.status).toBe(401);
    expect(wrong.json()).toMatchObject({ error: { code: 'UserError', message: expect.stringContaining('API key') } });
    expect((await post(`${s.url}/score`, '{"n": 1}', { authorization: 'Bearer k-0123456789' })).json()).toEqual({
      value: 2,
      label: 'result',
    });
    expect((await post(`${s.url}/score`, '{"n": 2}', { 'api-key': 'k-0123456789' })).json()).toEqual({
      value: 4,
      label: 'result',
    });
    expect((await fetch(`${s.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${s.url}/health`)).status).toBe(200);
    expect(seen.join('\n')).not.toContain('k-0123456789');
  } finally {
    await s.close();
  }
});

test('connections: <CONN>_<KEY> variables override configured values (serving, §3.3)', async () => {
  const broken = { ...conn, value: { ...conn.value, api_base: 'http://127.0.0.1:9' } };
  const s = await startFlowServer({
    flow: `${FIX}/chat`,
    connections: [broken],
    port: 0,
    log: () => {},
    env: { CONN_API_BASE: model.url },
  });
  try {
    expect((await post(`${s.url}/score`, '{"question": "ok?"}')).json()).toMatchObject({
      answer: 'system: You are terse.\nuser: ok?',
    });
  } finally {
    await s.close();
  }
});

test('a request over the time limit answers 504 with the error shape', async () => {
  const slow = await modelServer(1000);
  const s = await startFlowServer({
    flow: `${FIX}/chat`,
    connections: [slow.conn],
    port: 0,
    log: () => {},
    requestTimeoutMs: 100,
  });
  try {
    const r = await post(`${s.url}/score`, '{"question": "slow"}');
    expect(r.status).toBe(504);
    expect(r.json()).toEqual({
      error: { code: expect.stringMatching(/Error$/), message: expect.stringContaining('timeout') },
    });
  } finally {
    await s.close();
    await slow.model.close();
  }
});

test('every kind of answer carries its request id once, next to the headers it sets itself', async () => {
  const ids = async (url: string, init: RequestInit = {}) => {
    const r = await fetch(url, { ...init, headers: { 'x-request-id': 'rid-7', ...(init.headers as object) } });
    await r.text();
    return { status: r.status, id: r.headers.get('x-request-id'), headers: r.headers };
  };
  const s = await startFlowServer({ flow: `${FIX}/chat`, connections: [conn], port: 0, apiKey: 'k-1', log: false });
  // log: false writes no access-log line anywhere (the default would go to stderr).
  const stderrWrite = process.stderr.write.bind(process.stderr);
  const accessLines: string[] = [];
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    if (String(chunk).includes('"requestId"')) accessLines.push(String(chunk));
    return stderrWrite(chunk, ...rest);
  }) as typeof process.stderr.write;
  try {
    const key = { authorization: 'Bearer k-1' };
    const score = await ids(`${s.url}/score`, { method: 'POST', body: '{"question": "id?"}', headers: key });
    expect(score).toMatchObject({ status: 200, id: 'rid-7' });
    expect(score.headers.get('content-type')).toBe('application/json');
    const sse = await ids(`${s.url}/score`, {
      method: 'POST',
      body: '{"question": "id?"}',
      headers: { ...key, accept: 'text/event-stream' },
    });
    expect(sse).toMatchObject({ status: 200, id: 'rid-7' });
    expect(sse.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const denied = await ids(`${s.url}/score`, { method: 'POST', body: '{}' });
    expect(denied).toMatchObject({ status: 401, id: 'rid-7' });
    expect(denied.headers.get('www-authenticate')).toBe('Bearer');
    const wrongMethod = await ids(`${s.url}/score`, { headers: key });
    expect(wrongMethod).toMatchObject({ status: 405, id: 'rid-7' });
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    expect(await ids(`${s.url}/nowhere`)).toMatchObject({ status: 404, id: 'rid-7' });
    expect(await ids(`${s.url}/metrics`, { headers: key })).toMatchObject({ status: 200, id: 'rid-7' });
    const fresh = await fetch(`${s.url}/health`);
    expect(fresh.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(accessLines).toEqual([]);
  } finally {
    process.stderr.write = stderrWrite;
    await s.close();
  }
});

/**
 * POST /feedback on a real flow server: validated (400 saying what was expected), stored with the request log
 * in its events file beside failed requests, and counted by the monitor for the version that answered, joined
 * by request id; without a request log the route says how to turn it on.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildMonitorReport } from '../../src/shared/monitor/index.js';
import { startFlowServer } from '../../src/shared/serve/index.js';

const CALC = 'tests/serve/fixtures/calc';
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-feedback-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const post = async (url: string, body: unknown) => {
  const r = await fetch(url, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  return { status: r.status, id: r.headers.get('x-request-id'), json: (await r.json()) as Record<string, unknown> };
};

test('feedback and failed requests are stored in the events file and counted for the version that answered', async () => {
  const file = path.join(dir, 'logs', 'requests.jsonl');
  const server = await startFlowServer({ flow: CALC, port: 0, log: false, requestLog: { file, deployment: 'blue' } });
  let ids: string[];
  try {
    const answers = await Promise.all([2, 3, 5].map((n) => post(`${server.url}/score`, { n })));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    ids = answers.map((a) => a.id!);
    const failed = await post(`${server.url}/score`, { n: -1 });
    expect(failed.status).toBeGreaterThanOrEqual(400);

    expect(await post(`${server.url}/feedback`, { request_id: ids[0], rating: 1, comment: 'right' })).toMatchObject({
      status: 202,
      json: { status: 'recorded', request_id: ids[0] },
    });
    expect((await post(`${server.url}/feedback`, { request_id: ids[1], rating: 0, label: 'wrong' })).status).toBe(202);
    expect((await post(`${server.url}/feedback`, { request_id: 'not-logged-1', label: 'helpful' })).status).toBe(202);

    const none = await post(`${server.url}/feedback`, { request_id: ids[2] });
    expect(none.status).toBe(400);
    expect(JSON.stringify(none.json)).toMatch(/neither a rating nor a label; expected \{\\"request_id\\"/);
    const badRating = await post(`${server.url}/feedback`, { request_id: ids[2], rating: 'five' });
    expect(badRating.json).toMatchObject({
      error: { code: 'UserError', message: 'rating is "five"; expected a number' },
    });
    expect((await post(`${server.url}/feedback`, { request_id: 'a b', rating: 1 })).status).toBe(400);
    expect((await post(`${server.url}/feedback`, [1])).status).toBe(400);
    expect((await fetch(`${server.url}/feedback`)).status).toBe(405);
  } finally {
    await server.close();
  }

  const events = readFileSync(path.join(dir, 'logs', 'requests.events.jsonl'), 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(events.map((e) => e.type)).toEqual(['error', 'feedback', 'feedback', 'feedback']);
  expect(events[0]).toMatchObject({
    deployment: 'blue',
    error: { kind: expect.any(String) },
    latency_ms: expect.any(Number),
  });
  expect(events[1]).toMatchObject({ request_id: ids[0], rating: 1, comment: 'right', deployment: 'blue' });

  const report = await buildMonitorReport({ sources: [file] });
  const all = report.summary.overall;
  expect(all).toMatchObject({ requests: 4, errors: 1 });
  expect(all.failureKinds).toHaveLength(1);
  expect(all.feedback).toMatchObject({ count: 3, unmatched: 1, ratings: 2, meanRating: 0.5, positive: 2 });
  const blue = report.summary.deployments.find((d) => d.name === 'blue')!;
  expect(blue.feedback).toMatchObject({ count: 2, positive: 1, labels: [{ label: 'wrong', count: 1 }] });
  expect(blue.latencyMs?.measured).toBe(4);
});

test('without a request log, /feedback says how to turn it on', async () => {
  const server = await startFlowServer({ flow: CALC, port: 0, log: false });
  try {
    const r = await post(`${server.url}/feedback`, { request_id: 'x', rating: 1 });
    expect(r.status).toBe(404);
    expect(r.json).toMatchObject({ error: { message: expect.stringMatching(/--request-log \(LLMOPS_REQUEST_LOG\)/) } });
  } finally {
    await server.close();
  }
});

/**
 * Hostile HTTP requests to the flow server and the local model server (issue 11): each gets its exact status
 * within a bounded time, and the servers keep answering.
 */
import { connect } from 'node:net';
import { request } from 'node:http';
import { writeFlow } from '../flow/helpers.js';
import { startFlowServer, type FlowServer } from '../../src/shared/serve/index.js';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';

const promptFlow = (inputs: string[], template: string) =>
  writeFlow({
    't.jinja2': template,
    'flow.dag.yaml': `inputs:\n${inputs.map((i) => `  ${i}:\n    type: string\n`).join('')}outputs:\n  answer:\n    type: string\n    reference: \${p.output}\nnodes:\n- name: p\n  type: prompt\n  source:\n    type: code\n    path: t.jinja2\n  inputs:\n${inputs.map((i) => `    ${i}: \${inputs.${i}}\n`).join('')}`,
  });

const slowFlow = () =>
  writeFlow({
    'slow.py':
      'import time\nfrom promptflow.core import tool\n\n@tool\ndef slow(text: str) -> str:\n    time.sleep(1.5)\n    return text\n',
    'flow.dag.yaml':
      'inputs:\n  text:\n    type: string\noutputs:\n  answer:\n    type: string\n    reference: ${s.output}\nnodes:\n- name: s\n  type: python\n  source:\n    type: code\n    path: slow.py\n  inputs:\n    text: ${inputs.text}\n',
  });

const imageFlow = () =>
  writeFlow({
    'in.png': 'PNG-BYTES',
    'flow.dag.yaml':
      'inputs:\n  img:\n    type: image\noutputs:\n  image:\n    type: image\n    reference: ${inputs.img}\nnodes: []\n',
  });

let one: FlowServer;
let img: FlowServer;
let two: FlowServer;
let slow: FlowServer;
let model: ModelServerHandle;
const logs: string[] = [];

beforeAll(async () => {
  const quiet = () => {};
  [one, two, slow, model, img] = await Promise.all([
    startFlowServer({ flow: promptFlow(['text'], 'said: {{ text }}'), port: 0, log: quiet, maxBodyBytes: 200_000 }),
    startFlowServer({
      flow: promptFlow(['a', 'b'], '{{ a }}+{{ b }}'),
      port: 0,
      log: quiet,
      headersTimeoutMs: 300,
      bodyTimeoutMs: 600,
    }),
    startFlowServer({ flow: slowFlow(), port: 0, log: (l) => logs.push(l) }),
    startModelServer(),
    startFlowServer({ flow: imageFlow(), port: 0, log: quiet }),
  ]);
});

afterAll(async () => {
  await Promise.all([one?.close(), two?.close(), slow?.close(), model?.close(), img?.close()]);
});

const nested = (depth: number, leaf = '"x"') => '['.repeat(depth) + leaf + ']'.repeat(depth);

interface HttpCase {
  name: string;
  server: () => string;
  contentType?: string;
  body: string;
  status: number;
  /** A fragment of the answer (error message or output). */
  says: string | RegExp;
}

const FLOW_CASES: HttpCase[] = [
  {
    name: 'a form body',
    server: () => one.url,
    contentType: 'application/x-www-form-urlencoded',
    body: 'text=hi&x=1',
    status: 415,
    says: /Content-Type "application\/x-www-form-urlencoded" is not accepted: send the flow inputs as a JSON object with Content-Type: application\/json \(or the only input as text\/plain\)/,
  },
  {
    name: 'a multipart body',
    server: () => two.url,
    contentType: 'multipart/form-data; boundary=xyz',
    body: '--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--xyz--\r\n',
    status: 415,
    says: /Content-Type "multipart\/form-data; boundary=xyz" is not accepted/,
  },
  {
    name: 'an XML body',
    server: () => two.url,
    contentType: 'application/xml',
    body: '<a>1</a>',
    status: 415,
    says: /is not accepted/,
  },
  {
    name: 'an octet-stream body',
    server: () => one.url,
    contentType: 'application/octet-stream',
    body: 'raw',
    status: 415,
    says: /is not accepted/,
  },
  {
    name: 'plain text for a flow with several inputs',
    server: () => two.url,
    contentType: 'text/plain',
    body: 'just text',
    status: 415,
    says: /JsonPayloadRequiredForMultipleInputFields/,
  },
  {
    name: 'plain text for a single-input flow (Prompt Flow §7.2)',
    server: () => one.url,
    contentType: 'text/plain',
    body: 'hello',
    status: 200,
    says: '{"answer":"said: hello"}',
  },
  {
    name: 'a JSON object sent as text/plain',
    server: () => two.url,
    contentType: 'text/plain;charset=UTF-8',
    body: '{"a": "1", "b": "2"}',
    status: 200,
    says: '{"answer":"1+2"}',
  },
  {
    name: 'a +json media type',
    server: () => two.url,
    contentType: 'application/vnd.api+json',
    body: '{"a": "1", "b": "2"}',
    status: 200,
    says: '{"answer":"1+2"}',
  },
  {
    name: 'JSON nested 10,000 deep (was 500 SystemError)',
    server: () => two.url,
    contentType: 'application/json',
    body: `{"a": "1", "b": "2", "x": ${nested(10_000)}}`,
    status: 400,
    says: 'The request body nests JSON more than 64 levels deep; flow inputs may nest at most 64 levels',
  },
  {
    name: 'JSON nested 65 deep',
    server: () => two.url,
    contentType: 'application/json',
    body: `{"a": "1", "b": "2", "x": ${nested(64)}}`,
    status: 400,
    says: /more than 64 levels/,
  },
  {
    name: 'JSON nested 60 deep is fine',
    server: () => two.url,
    contentType: 'application/json',
    body: `{"a": "1", "b": "2", "x": ${nested(60)}}`,
    status: 200,
    says: '{"answer":"1+2"}',
  },
  {
    name: 'brackets inside strings do not count as nesting',
    server: () => two.url,
    contentType: 'application/json',
    body: JSON.stringify({ a: '['.repeat(500), b: '{"\\'.repeat(100) }),
    status: 200,
    says: '"answer"',
  },
  {
    name: 'malformed JSON',
    server: () => two.url,
    contentType: 'application/json',
    body: '{"a": ',
    status: 400,
    says: /not valid JSON/,
  },
  {
    name: 'an image path to a file outside (/etc/hostname)',
    server: () => img.url,
    contentType: 'application/json',
    body: '{"img": "/etc/hostname"}',
    status: 400,
    says: /image path "\/etc\/hostname" resolves to \/etc\/hostname, outside the flow or data folder and the working directory/,
  },
  {
    name: 'an image path dict climbing out',
    server: () => img.url,
    contentType: 'application/json',
    body: '{"img": {"data:image/png;path": "../../../../../../../../etc/passwd"}}',
    status: 400,
    says: /image path "(\.\.\/)+etc\/passwd" resolves to \/etc\/passwd, outside/,
  },
  {
    name: 'an image path that does not exist',
    server: () => img.url,
    contentType: 'application/json',
    body: '{"img": "nope/missing.png"}',
    status: 400,
    says: /image file not found: .*nope\/missing\.png/,
  },
  {
    name: 'an oversize body',
    server: () => one.url,
    contentType: 'application/json',
    body: JSON.stringify({ text: 'x'.repeat(300_000) }),
    status: 413,
    says: /limit of 200000 bytes/,
  },
];

describe('flow server: hostile bodies get their exact status', () => {
  test.each(FLOW_CASES)('$name → $status', async ({ server, contentType, body, status, says }) => {
    const started = performance.now();
    const r = await fetch(`${server()}/score`, {
      method: 'POST',
      body,
      headers: contentType ? { 'content-type': contentType } : {},
    });
    const text = await r.text();
    expect(r.status).toBe(status);
    // Errors are matched on their message (the body is JSON, so quotes in it are escaped).
    const shown = status >= 400 ? (JSON.parse(text) as { error: { message: string } }).error.message : text;
    if (typeof says === 'string') expect(shown).toContain(says);
    else expect(shown).toMatch(says);
    if (status >= 400) expect(JSON.parse(text)).toEqual({ error: { code: 'UserError', message: expect.any(String) } });
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

/** Opens a raw connection, writes `first`, and resolves with what the server sent and when it closed. */
function rawExchange(url: string, first: string): Promise<{ received: string; ms: number }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect(Number(port), hostname, () => socket.write(first));
    let received = '';
    socket.on('data', (d) => (received += d.toString()));
    socket.on('close', () => resolve({ received, ms: performance.now() - started }));
    socket.on('error', reject);
    setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server held the socket for 5 s; received ${JSON.stringify(received)}`));
    }, 5000);
  });
}

describe('flow server: slow and vanishing clients', () => {
  test('headers never finished → 408 and the socket is closed after the headers timeout', async () => {
    const r = await rawExchange(two.url, 'POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: appl');
    expect(r.received).toMatch(/^HTTP\/1\.1 408/);
    expect(r.ms).toBeLessThan(2000);
  });

  test('a body that trickles past the body timeout → 408 and the socket is closed', async () => {
    const r = await rawExchange(
      two.url,
      'POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a": ',
    );
    expect(r.received).toMatch(/^HTTP\/1\.1 408/);
    expect(r.ms).toBeLessThan(2500);
  });

  test('a request the client aborted is logged as aborted (499), not 200', async () => {
    const done = new Promise<void>((resolve) => {
      const req = request(`${slow.url}/score`, { method: 'POST', headers: { 'content-type': 'application/json' } });
      req.on('error', () => resolve());
      req.end('{"text": "bye"}');
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 300);
    });
    await done;
    const deadline = Date.now() + 5000;
    while (!logs.some((l) => l.includes('"aborted":true')) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const line = JSON.parse(logs.find((l) => l.includes('"aborted":true'))!) as Record<string, unknown>;
    expect(line).toMatchObject({
      level: 'warn',
      msg: 'request aborted by the client',
      path: '/score',
      status: 499,
      completed: false,
      aborted: true,
    });
    const metrics = await (await fetch(`${slow.url}/metrics`)).text();
    expect(metrics).toMatch(/llmops_http_requests_total\{route="\/score",method="POST",status="499"\} 1/);
  });
});

function chatBody(content: string): string {
  return JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content }], max_tokens: 16 });
}

const MODEL_KEY = { authorization: 'Bearer k', 'content-type': 'application/json' };

describe('model server: bounded work per request', () => {
  test.each([
    [
      'an 8 MB prompt (declared length)',
      () => chatBody('x'.repeat(8 * 1024 * 1024)),
      413,
      /Request body too large: \d+ bytes or more, limit 4194304 bytes/,
    ],
    [
      'JSON nested 10,000 deep',
      () => `{"model": "gpt-4o", "messages": ${nested(10_000)}}`,
      400,
      /nests more than 128 levels deep/,
    ],
    ['a body that is not JSON', () => 'not json', 400, /could not parse the JSON body/],
  ])('%s → %s', async (_name, body, status, says) => {
    const started = performance.now();
    const r = await fetch(`${model.url}/v1/chat/completions`, { method: 'POST', headers: MODEL_KEY, body: body() });
    expect(r.status).toBe(status);
    expect(await r.text()).toMatch(says);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  test('an oversize body without a declared length (chunked) → 413 before it is all read', async () => {
    const started = performance.now();
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${model.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { ...MODEL_KEY, 'transfer-encoding': 'chunked' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      const chunk = 'y'.repeat(1024 * 1024);
      for (let i = 0; i < 6; i++) req.write(chunk);
    });
    expect(status).toBe(413);
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

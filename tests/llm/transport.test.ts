/** The client's transport (undici's dispatcher): pooled keep-alive sockets, stale sockets, dropped answers, time limits. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { LlmClient } from '../../src/shared/llm/client.js';
import { LlmRetriesExhaustedError } from '../../src/shared/llm/errors.js';

const answer = JSON.stringify({
  id: 'x',
  object: 'chat.completion',
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
});
const ask = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };

async function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; server: Server; sockets: Set<Socket>; connections: () => number }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => handler(req, res));
  });
  const sockets = new Set<Socket>();
  let connections = 0;
  server.on('connection', (s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    server,
    sockets,
    connections: () => connections,
  };
}
const closers: (() => void)[] = [];
afterEach(() => closers.splice(0).forEach((c) => c()));
function track(s: { server: Server; sockets: Set<Socket> }) {
  closers.push(() => {
    for (const x of s.sockets) x.destroy();
    s.server.close();
  });
}

test('keep-alive: 400 calls at concurrency 8 share a few pooled sockets', async () => {
  const s = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(answer));
  track(s);
  const client = new LlmClient({ connection: { type: 'open_ai', api_key: 'k', base_url: `${s.url}/v1` } });
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next++ < 400) expect((await client.chat(ask)).response.choices[0].message.content).toBe('ok');
    }),
  );
  // The pool checks an idle socket for a close from the server before reusing it (one turn of the event loop) and
  // opens another meanwhile when calls are waiting, so a few more than 8 may open; never one per call.
  expect(s.connections()).toBeLessThanOrEqual(40);
});

test('a pooled socket the server closed while idle: the call still succeeds, in one attempt', async () => {
  const s = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(answer));
  track(s);
  s.server.keepAliveTimeout = 30;
  const client = new LlmClient({ connection: { type: 'open_ai', api_key: 'k', base_url: `${s.url}/v1` } });
  for (let i = 0; i < 5; i++) {
    const r = await client.chat(ask);
    expect(r.attempts).toBe(1);
    await new Promise((r) => setTimeout(r, 60));
  }
});

test('a server that closes idle sockets without a Keep-Alive hint: every call still succeeds in one attempt', async () => {
  const s = await serve((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', connection: 'keep-alive' }).end(answer);
    const socket = req.socket;
    setTimeout(() => socket.destroy(), 20);
  });
  track(s);
  s.server.keepAliveTimeout = 0; // no Keep-Alive header: the client cannot know when the server gives up
  const client = new LlmClient({ connection: { type: 'open_ai', api_key: 'k', base_url: `${s.url}/v1` } });
  for (let i = 0; i < 5; i++) {
    expect((await client.chat(ask)).attempts).toBe(1);
    await new Promise((r) => setTimeout(r, 40));
  }
  expect(s.connections()).toBe(5);
});

test('a connection dropped before any answer (the keep-alive race) is sent again once, in the same attempt', async () => {
  const served = new WeakMap<Socket, number>();
  let dropped = 0;
  const s = await serve((req, res) => {
    const n = (served.get(req.socket) ?? 0) + 1;
    served.set(req.socket, n);
    // The first request to reuse a connection finds it closing: dropped without an answer.
    if (n === 2 && dropped++ === 0) return void req.socket.destroy();
    res.writeHead(200, { 'content-type': 'application/json' }).end(answer);
  });
  track(s);
  const client = new LlmClient({ connection: { type: 'open_ai', api_key: 'k', base_url: `${s.url}/v1` } });
  for (let i = 0; i < 4; i++) expect((await client.chat(ask)).attempts).toBe(1);
  expect(dropped).toBeGreaterThan(0);
});

test('an answer cut off mid-body is retried; a server that never answers is cut at the time limit and its socket closed', async () => {
  let n = 0;
  const s = await serve((_req, res) => {
    if (++n === 1) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(answer.length) });
      res.write(answer.slice(0, 10));
      setTimeout(() => res.socket?.destroy(), 10);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(answer);
  });
  track(s);
  const client = new LlmClient({
    connection: { type: 'open_ai', api_key: 'k', base_url: `${s.url}/v1` },
    retry: { baseDelayMs: 5 },
  });
  expect((await client.chat(ask)).attempts).toBe(2);

  let carried: Socket | undefined;
  const silent = await serve((req) => void (carried = req.socket));
  track(silent);
  const slow = new LlmClient({
    connection: { type: 'open_ai', api_key: 'k', base_url: `${silent.url}/v1` },
    timeoutMs: 150,
    retry: { maxRetries: 0 },
  });
  const started = performance.now();
  const e = await slow.chat(ask).catch((x) => x);
  expect(e).toBeInstanceOf(LlmRetriesExhaustedError);
  expect(e.message).toMatch(/timeout: no answer within 150 ms/);
  expect(performance.now() - started).toBeLessThan(1000);
  await new Promise((r) => setTimeout(r, 50));
  expect(carried?.destroyed).toBe(true);
});

test('error answers keep their status, service message and Retry-After', async () => {
  let n = 0;
  const s = await serve((_req, res) => {
    if (++n === 1)
      return res
        .writeHead(429, { 'content-type': 'application/json', 'retry-after-ms': '20' })
        .end(JSON.stringify({ error: { message: 'slow down', code: 'rate_limit' } }));
    res
      .writeHead(400, { 'content-type': 'application/json' })
      .end(JSON.stringify({ error: { message: 'bad request body', code: 'invalid', param: 'messages' } }));
  });
  track(s);
  const client = new LlmClient({
    connection: { type: 'open_ai', api_key: 'k', base_url: `${s.url}/v1` },
    random: () => 0,
  });
  const started = performance.now();
  const e = await client.chat(ask).catch((x) => x);
  expect(performance.now() - started).toBeGreaterThanOrEqual(15);
  expect(e.message).toBe(`chat call to ${s.url}/v1/chat/completions failed with HTTP 400 (invalid): bad request body`);
});

test('https: the CLI reaches a TLS endpoint trusted through NODE_EXTRA_CA_CERTS, over the transport', async () => {
  const { execFileSync, spawn } = await import('node:child_process');
  const { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } = await import('node:fs');
  const { createServer: createHttpsServer } = await import('node:https');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-tls-'));
  const [key, cert] = ['key.pem', 'cert.pem'].map((f) => path.join(dir, f));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  let seen = '';
  const server = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen = `${req.method} ${req.url} ${req.headers['api-key']} ${JSON.parse(body).messages[0].content}`;
      res.writeHead(200, { 'content-type': 'application/json' }).end(answer);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  mkdirSync(path.join(dir, 'flow'));
  writeFileSync(
    path.join(dir, 'flow/flow.dag.yaml'),
    'inputs:\n  question: {type: string}\noutputs:\n  answer: {type: string, reference: "${ask.output}"}\nnodes:\n- name: ask\n  type: llm\n  source: {type: code, path: ask.jinja2}\n  connection: aoai\n  api: chat\n  inputs: {deployment_name: gpt, question: "${inputs.question}"}\n',
  );
  writeFileSync(path.join(dir, 'flow/ask.jinja2'), '# user:\n{{question}}\n');
  writeFileSync(path.join(dir, 'conn.yaml'), `name: aoai\ntype: azure_open_ai\napi_base: ${url}\napi_key: tls-key\n`);
  try {
    const out = await new Promise<{ status: number | null; stdout: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        [
          path.resolve('dist/cli.js'),
          'flow',
          'test',
          'flow',
          '--inputs',
          'question=over tls',
          '--connections',
          'conn.yaml',
        ],
        { cwd: dir, env: { ...process.env, NODE_EXTRA_CA_CERTS: cert }, stdio: ['ignore', 'pipe', 'ignore'] },
      );
      let stdout = '';
      child.stdout.on('data', (c) => (stdout += c));
      child.on('exit', (status) => resolve({ status, stdout }));
    });
    expect(out.status).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({ answer: 'ok' });
    expect(seen).toBe('POST /openai/deployments/gpt/chat/completions?api-version=2024-02-01 tls-key over tls');
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a 307/308 redirect is followed with the same POST, as fetch did', async () => {
  const s = await serve((req, res) => {
    if (req.url === '/v1/chat/completions') return res.writeHead(308, { location: '/moved/v1/chat/completions' }).end();
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(req.method === 'POST' && req.url === '/moved/v1/chat/completions' ? answer : '{}');
  });
  track(s);
  const client = new LlmClient({ connection: { type: 'open_ai', api_key: 'k', base_url: `${s.url}/v1` } });
  expect((await client.chat(ask)).response.choices[0].message.content).toBe('ok');
});

test("a caller's signal: calls share the pool while it is quiet; when it aborts, the call rejects with its reason and the socket closes", async () => {
  let hold = false;
  let arrived!: (socket: Socket) => void;
  const held = new Promise<Socket>((r) => (arrived = r));
  const s = await serve((req, res) => {
    if (!hold) return void res.writeHead(200, { 'content-type': 'application/json' }).end(answer);
    arrived(req.socket);
  });
  track(s);
  const client = new LlmClient({ connection: { type: 'open_ai', api_key: 'k', base_url: `${s.url}/v1` } });
  const quiet = new AbortController();
  for (let i = 0; i < 20; i++)
    expect((await client.chat(ask, { signal: quiet.signal })).response.choices[0].message.content).toBe('ok');
  // Sequential calls: the pool may alternate between two sockets (see the keep-alive test), never one per call.
  expect(s.connections()).toBeLessThanOrEqual(2);

  hold = true;
  const caller = new AbortController();
  const call = client.chat(ask, { signal: caller.signal });
  const carrying = await held;
  expect(carrying.destroyed).toBe(false);
  const reason = new Error('client went away');
  caller.abort(reason);
  await expect(call).rejects.toBe(reason);
  // The server sees the call's connection closed: the model stops working for nobody.
  for (let i = 0; i < 100 && !carrying.destroyed; i++) await new Promise((r) => setTimeout(r, 10));
  expect(carrying.destroyed).toBe(true);
  // A signal aborted before the call: no request is sent.
  const before = s.connections();
  await expect(client.chat(ask, { signal: caller.signal })).rejects.toBe(reason);
  expect(s.connections()).toBe(before);
});

test('the request carries the endpoint headers, Host and Content-Length once each; an answer split inside a character decodes whole', async () => {
  let raw: string[] = [];
  let body = '';
  const server = createServer((req, res) => {
    raw = req.rawHeaders;
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const bytes = Buffer.from(answer.replace('"ok"', '"é€ok"'));
      const cut = bytes.indexOf(Buffer.from('€')) + 1; // inside the three bytes of '€'
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(bytes.subarray(0, cut));
      setTimeout(() => res.end(bytes.subarray(cut)), 20);
    });
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s) => (sockets.add(s), s.on('close', () => sockets.delete(s))));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  track({ server, sockets });
  const port = (server.address() as { port: number }).port;
  const client = new LlmClient({
    connection: { type: 'open_ai', api_key: 'k', base_url: `http://127.0.0.1:${port}/v1`, organization: 'org' },
  });
  const q = { model: 'm', messages: [{ role: 'user', content: 'naïve' }] };
  expect((await client.chat(q)).response.choices[0].message.content).toBe('é€ok');
  const headers: Record<string, string[]> = {};
  for (let i = 0; i < raw.length; i += 2) (headers[raw[i].toLowerCase()] ??= []).push(raw[i + 1]);
  expect(headers.host).toEqual([`127.0.0.1:${port}`]);
  expect(headers['content-length']).toEqual([String(Buffer.byteLength(JSON.stringify(q)))]);
  expect(headers.authorization).toEqual(['Bearer k']);
  expect(headers['openai-organization']).toEqual(['org']);
  expect(headers['content-type']).toEqual(['application/json']);
  expect(JSON.parse(body)).toEqual(q);
});

test('a header value with a line break is refused before anything is sent', async () => {
  let requests = 0;
  const s = await serve((_req, res) => (requests++, res.end(answer)));
  track(s);
  const client = new LlmClient({
    connection: { type: 'open_ai', api_key: 'k\r\nx-injected: 1', base_url: `${s.url}/v1` },
    retry: { maxRetries: 0 },
  });
  await expect(client.chat(ask)).rejects.toThrow();
  expect(requests).toBe(0);
});

/**
 * A loopback "migrated" service: the web_classification flow rebuilt on another framework, with that framework's
 * own API shapes, backed by the local model server (its chat endpoint, the same classify prompt as the flow's).
 *
 * - `POST /agent/run` — Agent-Framework-like: `{messages: [{role, contents: [{type: "text", text}]}]}` →
 *   `{messages: [{role: "assistant", contents: [{type: "text", text}]}], value: {...structured}, usage_details:
 *   {input_token_count, output_token_count, total_token_count}}`.
 * - `POST /v1/responses` — OpenAI Responses-style: `{model, input: [{role, content}]}`, or for a Foundry hosted
 *   agent `{agent: {type: "agent_reference", name}, input}` →
 *   `{id, object: "response", output: [{type: "message", role, content: [{type: "output_text", text}]}], usage:
 *   {input_tokens, output_tokens, total_tokens}}`.
 *
 * - `GET /classify?url=...` — a plain query endpoint: `{category, evidence}`.
 * Any method is taken on the POST routes (PUT, PATCH); `received` keeps each request's method, path and body.
 *
 * `divergeFraction`: the share of requests (chosen by a hash of the user's text, so the same lines every run)
 * whose answer is changed on purpose — a migration that disagrees on a known set of lines. `diverging(text)` says
 * whether a text is one of them, for the tests' expectations. `requireKey`: requests without
 * `Authorization: Bearer <key>` get 401. `throttleFirst`: the first N requests get 429.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MigratedServiceOptions {
  /** The local model server's base URL (its OpenAI-compatible `/v1`). */
  modelUrl: string;
  divergeFraction?: number;
  requireKey?: string;
  /** The first N requests get 429 with `Retry-After: 0` (a throttled service the client must retry). */
  throttleFirst?: number;
}

export interface MigratedService {
  url: string;
  requests: number;
  /** When each request arrived (performance.now(), ms). */
  arrivals: number[];
  /** Each request's method, path and parsed JSON body (undefined when it had none). */
  received: { method: string; url: string; body: unknown }[];
  diverging(text: string): boolean;
  close(): Promise<void>;
}

const CATEGORIES = ['Movie', 'App', 'Academic', 'Channel', 'Profile', 'PDF', 'None'];

export async function startMigratedService(options: MigratedServiceOptions): Promise<MigratedService> {
  const fraction = options.divergeFraction ?? 0;
  const diverging = (text: string) =>
    fraction > 0 && createHash('sha256').update(text).digest().readUInt32BE(0) / 2 ** 32 < fraction;

  /** The classification the flow's classify node would ask for, answered by the local model (JSON text). */
  async function classify(url: string): Promise<{ category: string; evidence: string; tokens: [number, number] }> {
    const prompt = `Classify the web page.\nURL: ${url}\nText content: Summary: ${url}\nOUTPUT:`;
    const res = await fetch(`${options.modelUrl.replace(/\/$/, '')}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer local' },
      body: JSON.stringify({ model: 'gpt-35-turbo', messages: [{ role: 'user', content: prompt }] }),
    });
    if (!res.ok) throw new Error(`model server: HTTP ${res.status}`);
    const body = (await res.json()) as {
      choices: { message: { content: string } }[];
      usage: { prompt_tokens: number; completion_tokens: number };
    };
    const parsed = JSON.parse(body.choices[0].message.content) as { category: string; evidence: string };
    if (diverging(url)) {
      const i = CATEGORIES.indexOf(parsed.category);
      parsed.category = CATEGORIES[(i + 1) % CATEGORIES.length];
    }
    return { ...parsed, tokens: [body.usage.prompt_tokens, body.usage.completion_tokens] };
  }

  const service: MigratedService = {
    url: '',
    requests: 0,
    arrivals: [],
    received: [],
    diverging,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };

  const server = http.createServer((req, res) => {
    service.arrivals.push(performance.now());
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    req.on('end', () => {
      service.requests++;
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (service.requests <= (options.throttleFirst ?? 0)) {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '0' });
        return res.end(JSON.stringify({ error: { message: 'slow down' } }));
      }
      if (options.requireKey && req.headers.authorization !== `Bearer ${options.requireKey}`)
        return send(401, { error: { message: 'missing or wrong key' } });
      let body: Record<string, unknown> = {};
      try {
        if (text !== '' || req.method !== 'GET') body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return send(400, { error: { message: 'body is not JSON' } });
      }
      service.received.push({ method: req.method ?? '', url: req.url ?? '', body: text === '' ? undefined : body });
      const answer = async () => {
        const query = new URL(req.url ?? '/', 'http://x');
        if (req.method === 'GET' && query.pathname === '/classify') {
          const said = query.searchParams.get('url');
          if (!said) return send(400, { error: { message: 'expected ?url=' } });
          const r = await classify(said.trim());
          return send(200, { category: r.category, evidence: r.evidence });
        }
        if (req.url === '/agent/run') {
          const messages = body.messages as { role: string; contents: { type: string; text: string }[] }[];
          const user = messages?.filter((m) => m.role === 'user').pop();
          const said = user?.contents?.find((c) => c.type === 'text')?.text;
          if (typeof said !== 'string') return send(400, { error: { message: 'expected messages[].contents[].text' } });
          const r = await classify(said.trim());
          const reply = JSON.stringify({ category: r.category, evidence: r.evidence });
          return send(200, {
            messages: [{ role: 'assistant', contents: [{ type: 'text', text: reply }] }],
            value: { category: r.category, evidence: r.evidence },
            usage_details: {
              input_token_count: r.tokens[0],
              output_token_count: r.tokens[1],
              total_token_count: r.tokens[0] + r.tokens[1],
            },
          });
        }
        if (req.url === '/v1/responses') {
          const input = body.input as { role: string; content: string }[];
          const said = Array.isArray(input) ? input.filter((m) => m.role === 'user').pop()?.content : body.input;
          const agent = body.agent as { type?: string; name?: string } | undefined;
          const named = agent ? agent.type === 'agent_reference' && typeof agent.name === 'string' : false;
          if (typeof said !== 'string' || (typeof body.model !== 'string' && !named))
            return send(400, {
              error: {
                message: 'expected model or agent: {type: agent_reference, name}, and input: [{role, content}]',
              },
            });
          const r = await classify(said.trim());
          return send(200, {
            id: `resp_${createHash('sha256').update(said).digest('hex').slice(0, 12)}`,
            object: 'response',
            model: body.model ?? agent?.name,
            output: [
              { type: 'reasoning', summary: [] },
              { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: r.category }] },
            ],
            usage: { input_tokens: r.tokens[0], output_tokens: r.tokens[1], total_tokens: r.tokens[0] + r.tokens[1] },
          });
        }
        send(404, { error: { message: `no route ${req.url}` } });
      };
      answer().catch((e: Error) => send(502, { error: { message: e.message } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  service.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return service;
}

/**
 * Package tools (`source.type: package`): promptflow-tools' HTTP tools run natively against loopback stand-in
 * services (SerpAPI, Azure AI Content Safety), and a third-party tool package installed into a temporary folder on
 * PYTHONPATH (a dist-info with a `package_tools` entry point) runs through the Python worker.
 */
import { cpSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Connection } from '../../../src/shared/config/connections.js';
import { ConfigError } from '../../../src/shared/errors.js';
import { loadFlow } from '../../../src/shared/flow/index.js';
import { createExecutor, type ExecutorOptions, type FlowExecutor } from '../../../src/shared/engine/index.js';

const FIX = resolve('tests/engine/package-tools/fixtures');

interface Seen {
  method: string;
  url: URL;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A loopback HTTP service answering with `answer(request)`; every request is recorded. */
async function standIn(
  answer: (req: Seen) => { status: number; body: unknown },
): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const entry = {
        method: req.method ?? '',
        url: new URL(req.url ?? '/', 'http://127.0.0.1'),
        headers: req.headers,
        body,
      };
      seen.push(entry);
      const { status, body: out } = answer(entry);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(typeof out === 'string' ? out : JSON.stringify(out));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((r) => server.close(() => r())) };
}

async function withExecutor<T>(
  flow: string,
  options: ExecutorOptions,
  fn: (ex: FlowExecutor) => Promise<T>,
): Promise<T> {
  const ex = await createExecutor(loadFlow(join(FIX, flow)), options);
  try {
    return await fn(ex);
  } finally {
    await ex.close();
  }
}

describe('SerpAPI (promptflow.tools.serpapi.SerpAPI.search), natively', () => {
  let service: Awaited<ReturnType<typeof standIn>>;
  beforeAll(async () => {
    service = await standIn((req) => {
      const q = req.url.searchParams.get('q');
      if (req.url.searchParams.get('api_key') !== 'serp-key')
        return {
          status: 401,
          body: { error: 'Invalid API key. Your API key should be here: https://serpapi.com/manage-api-key' },
        };
      if (q === 'boom') return { status: 503, body: 'upstream unavailable' };
      return {
        status: 200,
        body: { search_metadata: { id: 'abc', status: 'Success' }, organic_results: [{ title: `About ${q}` }] },
      };
    });
  });
  afterAll(() => service.close());
  const serp = (key = 'serp-key'): Connection => ({
    name: 'serp',
    type: 'SerpConnection',
    value: { api_key: key, api_base: service.url },
    secretKeys: ['api_key'],
  });

  test("sends the tool's query parameters to the connection's api_base and returns the JSON answer", async () => {
    await withExecutor('serpapi', { connections: [serp()] }, async (ex) => {
      const google = await ex.runLine({ text: 'prompt flow' });
      expect(google.status).toBe('Completed');
      expect(google.outputs).toEqual({ first_title: 'About prompt flow', metadata: { id: 'abc', status: 'Success' } });
      const bing = await ex.runLine({ text: 'llmops', engine: 'bing' });
      expect(bing.outputs!.first_title).toBe('About llmops');
    });
    const [g, b] = service.seen.slice(-2);
    expect(g.method).toBe('GET');
    expect(g.url.pathname).toBe('/search');
    // Google takes safe=Active and num; other engines safeSearch=Strict and count (as the Python tool sends them).
    expect(Object.fromEntries(g.url.searchParams)).toEqual({
      q: 'prompt flow',
      api_key: 'serp-key',
      engine: 'google',
      safe: 'Active',
      num: '3',
    });
    expect(Object.fromEntries(b.url.searchParams)).toEqual({
      q: 'llmops',
      api_key: 'serp-key',
      engine: 'bing',
      safeSearch: 'Strict',
      count: '3',
    });
  });

  test("a rejected request is the line's SerpAPIUserError with the service's message; a 5xx a SerpAPISystemError", async () => {
    await withExecutor('serpapi', { connections: [serp('wrong')] }, async (ex) => {
      const r = await ex.runLine({ text: 'x' });
      expect(r.status).toBe('Failed');
      expect(r.error!.message).toBe('Invalid API key. Your API key should be here: https://serpapi.com/manage-api-key');
      expect(r.error!.code).toBe('UserError');
      expect(r.error!.innerError).toEqual({ code: 'SerpAPIUserError', innerError: null });
    });
    await withExecutor('serpapi', { connections: [serp()] }, async (ex) => {
      const r = await ex.runLine({ text: 'boom' });
      expect(r.status).toBe('Failed');
      expect(r.error!.message).toBe('SerpAPI search request failed: upstream unavailable');
      expect(r.error!.code).toBe('SystemError');
      expect(r.error!.innerError!.code).toBe('SerpAPISystemError');
    });
  });

  test("an unreachable service is the line's SerpAPISystemError; a connection of another type is refused at load", async () => {
    const closed = await standIn(() => ({ status: 200, body: {} }));
    await closed.close();
    const gone: Connection = {
      name: 'serp',
      type: 'SerpConnection',
      value: { api_key: 'k', api_base: closed.url },
      secretKeys: ['api_key'],
    };
    await withExecutor('serpapi', { connections: [gone] }, async (ex) => {
      const r = await ex.runLine({ text: 'x' });
      expect(r.error!.message).toMatch(/^SerpAPI search request failed: TypeError: fetch failed \(ECONNREFUSED\)/);
      expect(r.error!.innerError!.code).toBe('SerpAPISystemError');
    });
    const wrong: Connection = {
      name: 'serp',
      type: 'AzureOpenAIConnection',
      value: { api_key: 'k', api_base: 'http://x' },
      secretKeys: ['api_key'],
    };
    const err = await createExecutor(loadFlow(join(FIX, 'serpapi')), { connections: [wrong] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(
      /connection "serp" has type AzureOpenAIConnection; the Serp API tool needs a SerpConnection \(InvalidConnectionType\)/,
    );
  });
});

describe('Content Safety (promptflow.tools.azure_content_safety.analyze_text), natively', () => {
  test("posts the text with the subscription key; the decision follows each category's sensitivity", async () => {
    const service = await standIn((req) => {
      const { text } = JSON.parse(req.body) as { text: string };
      const severity = text.includes('angry') ? 2 : 0;
      return {
        status: 200,
        body: {
          blocklistsMatch: [],
          categoriesAnalysis: [
            { category: 'Hate', severity },
            { category: 'SelfHarm', severity: 0 },
            { category: 'Sexual', severity: 0 },
            { category: 'Violence', severity: 6 },
          ],
        },
      };
    });
    const safety: Connection = {
      name: 'safety',
      type: 'AzureContentSafetyConnection',
      value: { api_key: 'cs-key', endpoint: `${service.url}/` },
      secretKeys: ['api_key'],
    };
    try {
      await withExecutor('content_safety', { connections: [safety] }, async (ex) => {
        const calm = await ex.runLine({ text: 'a calm day' });
        // Violence is "disable": severity 6 does not reject.
        expect(calm.outputs).toEqual({
          decision: {
            suggested_action: 'Accept',
            action_by_category: { Hate: 'Accept', SelfHarm: 'Accept', Sexual: 'Accept', Violence: 'Accept' },
          },
        });
        const angry = await ex.runLine({ text: 'an angry rant' });
        // Hate at high sensitivity rejects from severity 2.
        expect(angry.outputs).toEqual({
          decision: {
            suggested_action: 'Reject',
            action_by_category: { Hate: 'Reject', SelfHarm: 'Accept', Sexual: 'Accept', Violence: 'Accept' },
          },
        });
      });
      const req = service.seen[0];
      expect(req.method).toBe('POST');
      expect(`${req.url.pathname}${req.url.search}`).toBe('/contentsafety/text:analyze?api-version=2023-10-01');
      expect(req.headers['ocp-apim-subscription-key']).toBe('cs-key');
      expect(JSON.parse(req.body)).toEqual({ text: 'a calm day', blocklistNames: [] });
    } finally {
      await service.close();
    }
  });
});

test("Content Safety: a blocklist match rejects; the older API version reads <category>Result; a service error is the line's", async () => {
  const service = await standIn((req) => {
    const version = req.url.searchParams.get('api-version');
    const { text } = JSON.parse(req.body) as { text: string };
    if (text === 'bad key')
      return {
        status: 401,
        body: { error: { code: '401', message: 'Access denied due to invalid subscription key.' } },
      };
    if (version === '2023-04-30-preview')
      return {
        status: 200,
        body: {
          hateResult: { severity: 4 },
          selfHarmResult: { severity: 0 },
          sexualResult: { severity: 0 },
          violenceResult: { severity: 0 },
        },
      };
    return {
      status: 200,
      body: {
        blocklistsMatch: [{ blocklistName: 'b', blocklistItemText: 'x' }],
        categoriesAnalysis: [
          { category: 'Hate', severity: 0 },
          { category: 'SelfHarm', severity: 0 },
          { category: 'Sexual', severity: 0 },
          { category: 'Violence', severity: 0 },
        ],
      },
    };
  });
  const safety = (apiVersion?: string): Connection => ({
    name: 'safety',
    type: 'AzureContentSafetyConnection',
    value: { api_key: 'k', endpoint: service.url, ...(apiVersion ? { api_version: apiVersion } : {}) },
    secretKeys: ['api_key'],
  });
  try {
    await withExecutor('content_safety', { connections: [safety()] }, async (ex) => {
      expect((await ex.runLine({ text: 'listed word' })).outputs!.decision).toEqual({
        suggested_action: 'Reject',
        action_by_category: { Hate: 'Accept', SelfHarm: 'Accept', Sexual: 'Accept', Violence: 'Accept' },
      });
      const failed = await ex.runLine({ text: 'bad key' });
      expect(failed.error!.message).toBe('Error in detecting content: Access denied due to invalid subscription key.');
      expect(failed.error!.innerError!.code).toBe('AzureContentSafetySystemError');
    });
    await withExecutor('content_safety', { connections: [safety('2023-04-30-preview')] }, async (ex) => {
      expect((await ex.runLine({ text: 'x' })).outputs!.decision).toEqual({
        suggested_action: 'Reject',
        action_by_category: { Hate: 'Reject', SelfHarm: 'Accept', Sexual: 'Accept', Violence: 'Accept' },
      });
    });
  } finally {
    await service.close();
  }
});

describe("a tool package installed in the flow's Python environment, through the worker", () => {
  /** The fixture package copied into a fresh folder with a dist-info declaring its `package_tools` entry point. */
  function installAcmeTools(): string {
    const site = mkdtempSync(join(tmpdir(), 'llmops-site-'));
    cpSync(join(FIX, 'acme_tools_src'), site, { recursive: true });
    const distInfo = join(site, 'acme_tools-0.1.0.dist-info');
    mkdirSync(distInfo);
    writeFileSync(join(distInfo, 'METADATA'), 'Metadata-Version: 2.1\nName: acme-tools\nVersion: 0.1.0\n');
    writeFileSync(
      join(distInfo, 'entry_points.txt'),
      '[package_tools]\nacme = acme_tools.listing:list_package_tools\n',
    );
    return site;
  }

  test("function and ToolProvider tools by their keys, literals typed by the signature, a CustomConnection as the package's strong type", async () => {
    const site = installAcmeTools();
    const acme: Connection = {
      name: 'acme',
      type: 'CustomConnection',
      value: { api_key: 'sekret', region: 'us-east' },
      secretKeys: ['api_key'],
    };
    await withExecutor('third_party', { connections: [acme], env: { PYTHONPATH: site } }, async (ex) => {
      const r = await ex.runLine({ name: 'ada' });
      expect(r.error).toBeUndefined();
      expect(r.outputs).toEqual({
        greeting: 'HELLO ADA HELLO ADA',
        stamped: { text: 'HELLO ADA HELLO ADA', region: 'us-east', key_length: 6, strong_type: 'AcmeConnection' },
      });
    });
  });

  test("a custom_llm tool of the package receives the template file's text in its PromptTemplate parameter", async () => {
    const site = installAcmeTools();
    const acme: Connection = {
      name: 'acme',
      type: 'CustomConnection',
      value: { api_key: 'sekret', region: 'us-east' },
      secretKeys: ['api_key'],
    };
    await withExecutor('custom_llm_pkg', { connections: [acme], env: { PYTHONPATH: site } }, async (ex) => {
      const r = await ex.runLine({ topic: 'tides' });
      expect(r.error).toBeUndefined();
      expect(r.outputs).toEqual({ rendered: 'Write a friendly note about tides. [us-east]' });
    });
  });

  test('a key no installed package lists is refused at load, naming the node and the tools that are available', async () => {
    const site = installAcmeTools();
    const err = await createExecutor(loadFlow(join(FIX, 'missing_tool')), { env: { PYTHONPATH: site } }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).toContain('flow.dag.yaml');
    expect(message).toContain(
      'node lookup: package tool "not_installed_pkg.tools.lookup.search" cannot be loaded: Package tool \'not_installed_pkg.tools.lookup.search\' is not found in the current environment. All available package tools are: [acme_tools.old_stamp.stamp, acme_tools.tools.greet.greet, acme_tools.tools.render.render_prompt, acme_tools.tools.stamp.Stamper.stamp]',
    );
  });
});

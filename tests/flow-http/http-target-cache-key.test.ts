/**
 * The response cache of http targets: the same body sent to another URL, or with another method, is another
 * request. A loopback service answers with the method and path it received, so an answer taken from the cache of
 * another target would show it. Replay answers only what was recorded for that method and URL.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { bulkRunStep } from '../../src/shared/steps/bulk-run.js';
import { makeUseCase } from '../helpers/use-case-dir.js';

let server: http.Server;
let base: string;
const received: string[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      received.push(`${req.method} ${url.pathname}`);
      const q = req.method === 'GET' ? url.searchParams.get('q') : (JSON.parse(body) as { q: string }).q;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ answer: `${req.method} ${url.pathname} ${q}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const experiment = (method: string, route: string) => `name: echo
flow:
  target: http
  url: ${base}${route}
  method: ${method}
  body:
    q: \${inputs.question}
  outputs:
    answer: $.answer
datasets:
  - name: train
    source: data/train.jsonl
    mappings:
      question: \${data.question}
`;

test('two http targets differing only by method, or only by URL, never share cached answers', async () => {
  const uc = makeUseCase({
    'experiment.yaml': experiment('POST', '/echo'),
    'data/train.jsonl': ['a', 'b', 'c'].map((q) => JSON.stringify({ question: q })).join('\n') + '\n',
  });
  const common = { config: path.join(uc.dir, 'experiment.yaml'), store: path.join(uc.dir, '.llmops') };
  const answers = async (cacheMode: string) => {
    const host = new MemoryHost();
    await bulkRunStep.run({ ...common, cacheMode } as never, host);
    const runId = host.outputs.get('run-ids')!;
    return readFileSync(path.join(uc.dir, '.llmops/runs', runId, 'outputs.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { line_number: number; outputs?: { answer: string }; error?: { message: string } })
      .sort((x, y) => x.line_number - y.line_number)
      .map((l) => l.outputs?.answer ?? l.error?.message);
  };
  const use = (method: string, route: string) =>
    writeFileSync(path.join(uc.dir, 'experiment.yaml'), experiment(method, route));
  try {
    expect(await answers('readwrite')).toEqual(['POST /echo a', 'POST /echo b', 'POST /echo c']);
    expect(received).toHaveLength(3);

    // The same URL and body by PUT: sent again, not answered from the POST's cache.
    use('PUT', '/echo');
    expect(await answers('readwrite')).toEqual(['PUT /echo a', 'PUT /echo b', 'PUT /echo c']);
    expect(received.slice(3)).toEqual(['PUT /echo', 'PUT /echo', 'PUT /echo']);

    // Another URL, same method and body: sent again too.
    use('POST', '/echo2');
    expect(await answers('readwrite')).toEqual(['POST /echo2 a', 'POST /echo2 b', 'POST /echo2 c']);
    expect(received).toHaveLength(9);

    // Replay gives each target its own recorded answers, calling nothing.
    use('PUT', '/echo');
    expect(await answers('replay')).toEqual(['PUT /echo a', 'PUT /echo b', 'PUT /echo c']);
    use('POST', '/echo');
    expect(await answers('replay')).toEqual(['POST /echo a', 'POST /echo b', 'POST /echo c']);
    expect(received).toHaveLength(9);

    // A method never recorded is a replay miss, not another method's answer.
    use('PATCH', '/echo');
    const missed = await answers('replay').catch((e: Error) => [e.message]);
    expect(received).toHaveLength(9);
    // Every line misses (nothing recorded for PATCH): the run fails its lines instead of answering them.
    expect(missed).toEqual(['bulk-run: failed lines over the tolerance in 1 run(s)']);
  } finally {
    uc.cleanup();
  }
});

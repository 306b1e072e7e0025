/**
 * Telemetry benchmark: engine overhead per line of a one-LLM-node flow (model answering instantly, in a child
 * process) with telemetry off and on, against a bare node:http loop on the same server, same rows, same
 * concurrency, run alternately repeat by repeat. "On" exports every span and metric over OTLP/HTTP to a
 * loopback sink in the model's process (it accepts and drops the payloads, so its decoding is not counted).
 * Every figure is the median over the repeats.
 *
 *   npx esbuild bench/telemetry.ts --bundle --platform=node --format=esm --target=node20 --outfile=dist/bench-telemetry.mjs \
 *     --banner:js="import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);"
 *   node dist/bench-telemetry.mjs [lines=5000] [repeats=3] [concurrencies=1,8,32] [modes=bare,off,on]
 *
 * Profile one mode alone with `node --cpu-prof dist/bench-telemetry.mjs 3000 1 32 on`.
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startModelServer } from '../src/model-server/index.js';
import { runBatch } from '../src/shared/runs/index.js';
import { startTelemetry } from '../src/shared/telemetry/index.js';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Lines/s of `fn` over `lines` lines. */
async function rateOf(lines: number, fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return lines / ((performance.now() - t0) / 1000);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1024, scheduling: 'lifo' });
function bareHttp(url: string, lines: number, concurrency: number): Promise<void> {
  const u = new URL(`${url}/v1/chat/completions`);
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'question 1' }] });
  const post = () =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(
        {
          hostname: u.hostname,
          port: u.port,
          path: u.pathname,
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', authorization: 'Bearer k', 'content-length': body.length },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => {
            JSON.parse(text);
            resolve();
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  let next = 0;
  return Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < lines) await post();
    }),
  ).then(() => undefined);
}

async function main(): Promise<void> {
  const lines = Number(process.argv[2] ?? 5000);
  const repeats = Number(process.argv[3] ?? 3);
  const dir = mkdtempSync(join(tmpdir(), 'llmops-bench-telemetry-'));
  const flow = join(dir, 'llm');
  mkdirSync(flow);
  writeFileSync(
    join(flow, 'flow.dag.yaml'),
    'inputs:\n  question: {type: string}\noutputs:\n  answer: {type: string, reference: "${ask.output}"}\nnodes:\n- name: ask\n  type: llm\n  source: {type: code, path: ask.jinja2}\n  connection: conn\n  api: chat\n  inputs: {model: gpt-4o-mini, question: "${inputs.question}"}\n',
  );
  writeFileSync(join(flow, 'ask.jinja2'), '# user:\n{{question}}\n');
  const data = join(dir, 'data.jsonl');
  writeFileSync(data, Array.from({ length: lines }, (_, i) => JSON.stringify({ question: `q ${i}` })).join('\n'));
  const child = fork(fileURLToPath(import.meta.url), ['--server'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { url, sink } = await new Promise<{ url: string; sink: string }>((resolve) => child.once('message', resolve));
  const conn = {
    name: 'conn',
    type: 'OpenAIConnection',
    value: { api_key: 'k', base_url: `${url}/v1` },
    secretKeys: ['api_key'],
  };
  // OTEL_TRACES_SAMPLER / _ARG from the bench's own environment, to measure what sampling saves.
  const sampling = Object.entries(process.env).filter(([k]) => k.startsWith('OTEL_TRACES_SAMPLER'));
  const env = {
    OTEL_EXPORTER_OTLP_ENDPOINT: sink,
    OTEL_METRIC_EXPORT_INTERVAL: '1000',
    ...Object.fromEntries(sampling),
  };
  console.log(`one-LLM-node flow, model latency 0, ${lines} lines, ${repeats} repeats (median)\n`);
  console.log(
    '| C | bare node:http lines/s | telemetry off lines/s | telemetry on lines/s | overhead/line off (ms) | overhead/line on (ms) |',
  );
  console.log('|---|---|---|---|---|---|');
  const concurrencies = (process.argv[4] ?? '1,8,32').split(',').map(Number);
  const modes = new Set((process.argv[5] ?? 'bare,off,on').split(','));
  for (const c of concurrencies) {
    const bare: number[] = [];
    const off: number[] = [];
    const on: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const store = join(dir, `store-${c}-${r}`);
      bare.push(await rateOf(lines, () => bareHttp(url, lines, c)));
      if (modes.has('off'))
        off.push(
          await rateOf(
            lines,
            async () =>
              void (await runBatch({ flow, data, storeRoot: `${store}-off`, connections: [conn], concurrency: c })),
          ),
        );
      if (!modes.has('on')) continue;
      const handle = await startTelemetry({ env });
      on.push(
        await rateOf(lines, async () => {
          await runBatch({ flow, data, storeRoot: `${store}-on`, connections: [conn], concurrency: c });
          await handle!.shutdown(); // the run's export is part of its cost
        }),
      );
    }
    const overhead = (xs: number[]) => median(xs.map((x, i) => (1 / x - 1 / bare[i]) * 1000 * c));
    console.log(
      `| ${c} | ${median(bare).toFixed(0)} | ${median(off).toFixed(0)} | ${median(on).toFixed(0)} | ${overhead(off).toFixed(3)} | ${overhead(on).toFixed(3)} |`,
    );
  }
  child.kill();
}

if (process.argv[2] === '--server') {
  const model = await startModelServer({});
  const sink = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  process.send!({ url: model.url, sink: `http://127.0.0.1:${(sink.address() as AddressInfo).port}` });
} else {
  await main();
}

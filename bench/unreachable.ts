/**
 * Benchmark: a run against a model endpoint that cannot be reached — time from the start of `runBatch` over
 * 10,000 lines to the clear failure (every line failed and recorded, the circuit open), for a refused
 * connection (a loopback port nothing listens on) and an unknown host (`.invalid`, never resolves).
 *
 *   npx esbuild bench/unreachable.ts --bundle --platform=node --format=esm --target=node20 --outfile=dist/bench-unreachable.mjs \
 *     --banner:js="import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);"
 *   node dist/bench-unreachable.mjs [lines=10000] [repeats=3]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBatch } from '../src/shared/runs/index.js';
import { LlmService } from '../src/shared/engine/index.js';

async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const lines = Number(process.argv[2] ?? 10_000);
  const repeats = Number(process.argv[3] ?? 3);
  const dir = mkdtempSync(join(tmpdir(), 'llmops-bench-unreachable-'));
  const flow = join(dir, 'flow');
  mkdirSync(flow);
  writeFileSync(
    join(flow, 'flow.dag.yaml'),
    'inputs:\n  question: {type: string}\noutputs:\n  answer: {type: string, reference: "${ask.output}"}\nnodes:\n- name: ask\n  type: llm\n  source: {type: code, path: ask.jinja2}\n  connection: conn\n  api: chat\n  inputs: {model: gpt-4o-mini, question: "${inputs.question}"}\n',
  );
  writeFileSync(join(flow, 'ask.jinja2'), '# user:\n{{question}}\n');
  const data = join(dir, 'data.jsonl');
  writeFileSync(
    data,
    Array.from({ length: lines }, (_, i) => JSON.stringify({ question: `question ${i}` })).join('\n') + '\n',
  );
  console.log(`node ${process.version}, ${lines} lines, C=8, medians of ${repeats} repeats\n`);
  console.log(
    '| endpoint | lines | seconds to the clear failure (median, min–max) | lines failed | error of the run |',
  );
  console.log('|---|---|---|---|---|');
  const targets: [string, () => Promise<string>][] = [
    ['refused (loopback port, nothing listening)', async () => `http://127.0.0.1:${await deadPort()}/v1`],
    ['unknown host (.invalid)', async () => 'http://no-such-model-host.invalid/v1'],
  ];
  for (const [label, base] of targets) {
    const times: number[] = [];
    let failed = 0;
    let error = '';
    for (let r = 0; r < repeats; r++) {
      const conn = {
        name: 'conn',
        type: 'OpenAIConnection',
        value: { api_key: 'k', base_url: await base() },
        secretKeys: ['api_key'],
      };
      const llm = new LlmService({});
      const t0 = performance.now();
      const s = await runBatch({ flow, data, storeRoot: join(dir, 'store'), connections: [conn], concurrency: 8, llm });
      times.push((performance.now() - t0) / 1000);
      failed = s.counts.failed;
      error =
        llm
          .unreachable()
          ?.message.replace(/https?:\/\/[^ ]+/, '<endpoint>')
          .slice(0, 90) ?? 'none';
    }
    console.log(
      `| ${label} | ${lines} | ${median(times).toFixed(2)} (${Math.min(...times).toFixed(2)}–${Math.max(...times).toFixed(2)}) | ${failed} | ${error}… |`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
}

await main();

/**
 * Engine benchmark: lines/s of `runBatch` for a one-LLM-node flow against the local model server (in a child
 * process) at latency 0 and 50 ms, concurrency 1/8/32, compared with a bare fetch loop at the same concurrency
 * and with the ideal C/L; engine overhead per line; peak RSS; and a flow with two python nodes.
 *
 *   npx esbuild bench/engine.ts --bundle --platform=node --format=esm --target=node20 --outfile=dist/bench-engine.mjs \
 *     --banner:js="import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);"
 *   node dist/bench-engine.mjs [lines=10000]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startModelServer } from '../src/shared/llm/index.js';
import { runBatch } from '../src/shared/runs/index.js';

if (process.argv[2] === '--server') {
  const server = await startModelServer({ latencyMs: Number(process.argv[3]) });
  process.send!({ url: server.url });
} else {
  await main();
}

async function startServer(latencyMs: number): Promise<{ url: string; child: ChildProcess }> {
  const child = fork(fileURLToPath(import.meta.url), ['--server', String(latencyMs)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const url = await new Promise<string>((resolve) => child.once('message', (m: { url: string }) => resolve(m.url)));
  return { url, child };
}

async function bareFetch(url: string, lines: number, concurrency: number): Promise<number> {
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'question 1' }], temperature: 1, top_p: 1, stream: false });
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < lines) {
      const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer k' }, body });
      await res.json();
    }
  }));
  return lines / ((performance.now() - started) / 1000);
}

function writeFlows(dir: string, lines: number): { llmFlow: string; pyFlow: string; data: string } {
  const llmFlow = join(dir, 'llm');
  mkdirSync(llmFlow);
  writeFileSync(join(llmFlow, 'flow.dag.yaml'), 'inputs:\n  question: {type: string}\noutputs:\n  answer: {type: string, reference: "${ask.output}"}\nnodes:\n- name: ask\n  type: llm\n  source: {type: code, path: ask.jinja2}\n  connection: conn\n  api: chat\n  inputs: {model: gpt-4o-mini, question: "${inputs.question}"}\n');
  writeFileSync(join(llmFlow, 'ask.jinja2'), '# user:\n{{question}}\n');
  const pyFlow = join(dir, 'py');
  mkdirSync(pyFlow);
  writeFileSync(join(pyFlow, 'flow.dag.yaml'), 'inputs:\n  question: {type: string}\noutputs:\n  out: {type: string, reference: "${b.output}"}\nnodes:\n- name: a\n  type: python\n  source: {type: code, path: a.py}\n  inputs: {text: "${inputs.question}"}\n- name: b\n  type: python\n  source: {type: code, path: a.py}\n  inputs: {text: "${a.output}"}\n');
  writeFileSync(join(pyFlow, 'a.py'), 'from promptflow.core import tool\n\n\n@tool\ndef up(text: str) -> str:\n    return text.upper()\n');
  const data = join(dir, 'data.jsonl');
  writeFileSync(data, Array.from({ length: lines }, (_, i) => JSON.stringify({ question: `question ${i}` })).join('\n') + '\n');
  return { llmFlow, pyFlow, data };
}

async function main(): Promise<void> {
  const lines = Number(process.argv[2] ?? 10_000);
  const dir = mkdtempSync(join(tmpdir(), 'llmops-bench-engine-'));
  const { llmFlow, pyFlow, data } = writeFlows(dir, lines);
  const slowLines = Math.min(lines, 1000);
  const slowData = join(dir, 'slow.jsonl');
  writeFileSync(slowData, Array.from({ length: slowLines }, (_, i) => JSON.stringify({ question: `question ${i}` })).join('\n') + '\n');
  const rows: string[] = ['| latency | C | lines | bare fetch lines/s | engine lines/s | engine/bare | engine/ideal C/L | overhead/line (ms) | peak RSS (MB) |', '|---|---|---|---|---|---|---|---|---|'];
  for (const latency of [0, 50]) {
    const { url, child } = await startServer(latency);
    const conn = { name: 'conn', type: 'OpenAIConnection', value: { api_key: 'k', base_url: `${url}/v1` }, secretKeys: ['api_key'] };
    for (const c of [1, 8, 32]) {
      const n = latency > 0 && c === 1 ? Math.min(slowLines, 200) : latency > 0 ? slowLines * (c >= 32 ? 4 : 1) : lines;
      const file = n === lines ? data : join(dir, `d-${n}.jsonl`);
      if (file !== data) writeFileSync(file, Array.from({ length: n }, (_, i) => JSON.stringify({ question: `question ${i}` })).join('\n') + '\n');
      await bareFetch(url, Math.min(n, 500), c); // warm up sockets and JIT
      const bare = await bareFetch(url, n, c);
      const t0 = performance.now();
      const s = await runBatch({ flow: llmFlow, data: file, storeRoot: join(dir, 'store'), connections: [conn], concurrency: c, llm: { maxConcurrency: 256 } });
      const engine = n / ((performance.now() - t0) / 1000);
      if (s.counts.completed !== n) throw new Error(`only ${s.counts.completed}/${n} lines completed`);
      const ideal = latency > 0 ? (c * 1000) / latency : NaN;
      const overhead = ((1 / engine - 1 / bare) * 1000 * c);
      const rss = process.resourceUsage().maxRSS / 1024;
      rows.push(`| ${latency} ms | ${c} | ${n} | ${bare.toFixed(0)} | ${engine.toFixed(0)} | ${(engine / bare).toFixed(2)} | ${Number.isNaN(ideal) ? '—' : (engine / ideal).toFixed(2)} | ${overhead.toFixed(3)} | ${rss.toFixed(0)} |`);
      console.error(rows[rows.length - 1]);
    }
    child.kill();
  }
  const t0 = performance.now();
  const s = await runBatch({ flow: pyFlow, data, storeRoot: join(dir, 'store'), concurrency: 8, pythonWorkers: 1 });
  const rate = lines / ((performance.now() - t0) / 1000);
  console.log(rows.join('\n'));
  console.log(`\ntwo python nodes, C=8, 1 worker: ${lines} lines, ${rate.toFixed(0)} lines/s (${s.counts.completed} completed), peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
}

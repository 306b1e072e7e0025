/**
 * Many small runs: 24 runs × 10 lines (3 datasets × 8 variants of a one-LLM-node flow), the local model server at
 * 50 ms latency (in a child process), C = 16. Wall time of the whole bulk-run against the ideal
 * 240 · 50 ms / 16 = 750 ms, for
 *   - run after run: the loop bulk-run had before the plan executed as one (main at eddd4c5): each planned run,
 *     in order, through runBatch with its own C workers, the next starting when the last line of the previous
 *     one is done (the same calls as that loop, without its runs-file bookkeeping);
 *   - one pool: the bulk-run step as it is now (every run through one line pool of C), whole: loading the use
 *     case, reading the datasets and planning included (measured alone as a dry run, the last row).
 * Medians over the repeats (alternating the two, repeat by repeat), printed as a markdown table.
 *
 *   npx esbuild bench/many-runs.ts --bundle --platform=node --format=esm --target=node20 --outfile=dist/bench-many-runs.mjs \
 *     --banner:js="import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);"
 *   node dist/bench-many-runs.mjs [repeats=3]
 */
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startModelServer, type ModelServerOptions } from '../src/model-server/index.js';
import { loadUseCase } from '../src/shared/config/use-case.js';
import { MemoryHost } from '../src/shared/host/memory.js';
import { LlmService } from '../src/shared/engine/index.js';
import { runBatch } from '../src/shared/runs/index.js';
import { planExperiment } from '../src/shared/runs/plan.js';
import { bulkRunStep } from '../src/shared/steps/bulk-run.js';

const LATENCY_MS = 50;
const C = 16;
const DATASETS = 3;
const VARIANTS = 8;
const LINES = 10;
const IDEAL_MS = (DATASETS * VARIANTS * LINES * LATENCY_MS) / C;

async function startServer(options: ModelServerOptions): Promise<{ url: string; stop(): void }> {
  const child = fork(fileURLToPath(import.meta.url), ['--server', JSON.stringify(options)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve) => child.once('message', (m: { url: string }) => resolve(m.url)));
  return { url, stop: () => child.kill() };
}

/** A use case: one llm node with VARIANTS variants, DATASETS datasets of LINES lines. */
function makeUseCase(): string {
  const dir = mkdtempSync(join(tmpdir(), 'llmops-bench-many-runs-'));
  const variants = Array.from(
    { length: VARIANTS },
    (_, v) =>
      `      v${v}:\n        node: { type: llm, source: { type: code, path: ask.jinja2 }, inputs: { deployment_name: gpt-4o-mini, max_tokens: ${10 + v}, question: "\${inputs.question}" }, connection: aoai, api: chat }\n`,
  ).join('');
  const files: Record<string, string> = {
    'flows/std/flow.dag.yaml':
      'inputs:\n  question:\n    type: string\noutputs:\n  answer:\n    type: string\n    reference: ${ask.output}\n' +
      'nodes:\n- name: ask\n  use_variants: true\nnode_variants:\n  ask:\n    default_variant_id: v0\n    variants:\n' +
      variants,
    'flows/std/ask.jinja2': '# user:\n{{question}}\n',
    'experiment.yaml':
      'name: bench\nflow: flows/std\nconnections:\n  - name: aoai\n    connection_type: AzureOpenAIConnection\n    api_base: ${api_base}\n    api_key: ${api_key}\n' +
      'variants:\n  plan: one_at_a_time\ndatasets:\n' +
      Array.from(
        { length: DATASETS },
        (_, d) => `  - name: d${d}\n    source: data/d${d}.jsonl\n    mappings:\n      question: \${data.question}\n`,
      ).join(''),
  };
  for (let d = 0; d < DATASETS; d++)
    files[`data/d${d}.jsonl`] =
      Array.from({ length: LINES }, (_, i) => JSON.stringify({ question: `dataset ${d} line ${i}` })).join('\n') + '\n';
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(join(dir, file, '..'), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  return dir;
}

/** Before: each planned run after the other, C workers each (bulk-run's loop before this change). */
async function runAfterRun(dir: string, store: string): Promise<number> {
  const useCase = loadUseCase({ configPath: join(dir, 'experiment.yaml'), needs: 'bulk-run' });
  const plan = await planExperiment(useCase, { build: 'old', sampleLines: 0 });
  if (plan.runs.length !== DATASETS * VARIANTS) throw new Error(`expected 24 runs, planned ${plan.runs.length}`);
  const llm = new LlmService({});
  const t0 = performance.now();
  for (const r of plan.runs) {
    const dataset = useCase.datasets.find((d) => d.name === r.dataset)!;
    await runBatch({
      storeRoot: store,
      concurrency: C,
      connections: useCase.connections,
      llm,
      flow: useCase.flow.model,
      variant: r.selection,
      variantId: r.variantId,
      data: dataset.localPath!,
      columnMapping: dataset.mappings,
      runId: r.runId,
    });
  }
  return performance.now() - t0;
}

/** After: the bulk-run step, every run through one pool of C lines. */
async function onePool(dir: string, store: string): Promise<number> {
  const t0 = performance.now();
  const out = await bulkRunStep.run(
    { config: join(dir, 'experiment.yaml'), store, concurrency: C, cacheMode: 'off', buildId: 'new' },
    new MemoryHost(),
  );
  const ms = performance.now() - t0;
  if (out.runs.length !== DATASETS * VARIANTS || out.runs.some((r) => r.completed !== LINES))
    throw new Error('bulk-run did not complete every line');
  return ms;
}

/** What the step spends before its first line: loading the use case, reading the datasets, planning. */
async function planOnly(dir: string, store: string): Promise<number> {
  const t0 = performance.now();
  await bulkRunStep.run(
    { config: join(dir, 'experiment.yaml'), store, concurrency: C, buildId: 'dry', dryRun: true },
    new MemoryHost(),
  );
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const repeats = Math.max(1, Number(process.argv[2] ?? 3));
  const server = await startServer({ latencyMs: LATENCY_MS });
  process.env.AOAI_API_BASE = server.url;
  process.env.AOAI_API_KEY = 'bench-key';
  const dir = makeUseCase();
  const times = { old: [] as number[], pool: [] as number[], plan: [] as number[] };
  try {
    // Warm-up (tokenizers, first connections), not counted.
    await onePool(dir, join(dir, 'warm'));
    for (let i = 0; i < repeats; i++) {
      times.old.push(await runAfterRun(dir, join(dir, `old-${i}`)));
      times.pool.push(await onePool(dir, join(dir, `pool-${i}`)));
      times.plan.push(await planOnly(dir, join(dir, `plan-${i}`)));
    }
  } finally {
    server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const row = (name: string, xs: number[]) =>
    `| ${name} | ${Math.round(median(xs))} | ${(median(xs) / IDEAL_MS).toFixed(2)} | ${xs.map((x) => Math.round(x)).join(', ')} |`;
  console.log(
    [
      `24 runs × 10 lines, model latency ${LATENCY_MS} ms, C = ${C}, ideal ${IDEAL_MS} ms; medians of ${repeats} repeats`,
      '',
      '| execution | wall (ms) | × ideal | repeats (ms) |',
      '|---|---:|---:|---|',
      row('run after run (before)', times.old),
      row('one pool across runs (now)', times.pool),
      row('of which: load, dataset check and plan (--dry-run)', times.plan),
    ].join('\n'),
  );
}

if (process.argv[2] === '--server') {
  const server = await startModelServer(JSON.parse(process.argv[3]) as ModelServerOptions);
  process.send!({ url: server.url });
} else {
  await main();
}

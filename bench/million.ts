/**
 * The million-line benchmark: a generated dataset of N lines through the lifecycle, each step a child process
 * of the built CLI — `llmops bulk-run` of a one-LLM-node flow against the local model server (instant
 * answers, its own process), `llmops evaluate` with a built-in evaluator (exact_match) and a flow evaluator
 * (a DAG whose prompt node grades the answer), then `llmops report` — printing each step's peak RSS (from
 * /usr/bin/time -v) and lines/s as a Markdown table.
 *
 *   npm run build
 *   LLMOPS_BENCH_LINES=50000 npx tsx bench/million.ts     # default 1,000,000 lines
 *
 * LLMOPS_BENCH_CONCURRENCY sets the lines in flight (default 32); LLMOPS_BENCH_KEEP=1 keeps the work folder;
 * LLMOPS_BENCH_PY_AGGREGATION=1 gives the flow evaluator a Python aggregation node;
 * LLMOPS_BENCH_NODE_FLAGS adds flags to each step's node (e.g. `--max-semi-space-size=64`, the default young
 * generation, to compare with the CLI's own). The heavy steps start node again with a smaller young generation
 * unless given one (src/packaging/relaunch.ts); `LLMOPS_RELAUNCH=0` runs them in the first node, with its defaults.
 * Besides /usr/bin/time's peak (the largest single process), the step's processes are sampled together.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist/cli.js');
const lines = Number(process.env.LLMOPS_BENCH_LINES ?? 1_000_000);
const concurrency = Number(process.env.LLMOPS_BENCH_CONCURRENCY ?? 32);
const nodeFlags = (process.env.LLMOPS_BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
const BUDGET_MB = 300;

const experiment = `name: million
flow: flows/std
connections:
  - name: aoai
    connection_type: AzureOpenAIConnection
    api_base: \${api_base}
    api_key: \${api_key}
datasets:
  - name: train
    source: data/train.jsonl
    mappings:
      question: \${data.question}
evaluators:
  - name: exact
    builtin: exact_match
    datasets:
      - name: train
        mappings:
          prediction: \${run.outputs.answer}
          reference: \${data.answer}
  - name: grader
    flow: flows/grade
    datasets:
      - name: train
        mappings:
          answer: \${data.answer}
          prediction: \${run.outputs.answer}
`;

const files: Record<string, string> = {
  'experiment.yaml': experiment,
  'flows/std/flow.dag.yaml': `inputs:
  question:
    type: string
outputs:
  answer:
    type: string
    reference: \${ask.output}
nodes:
- name: ask
  type: llm
  source:
    type: code
    path: ask.jinja2
  inputs:
    deployment_name: gpt-35-turbo
    question: \${inputs.question}
  connection: aoai
  api: chat
`,
  'flows/std/ask.jinja2': '# user:\n{{question}}\n',
  'flows/grade/flow.dag.yaml': `inputs:
  answer:
    type: string
  prediction:
    type: string
outputs:
  grade:
    type: string
    reference: \${grade.output}
nodes:
- name: grade
  type: prompt
  source:
    type: code
    path: grade.jinja2
  inputs:
    answer: \${inputs.answer}
    prediction: \${inputs.prediction}
`,
  'flows/grade/grade.jinja2': '{% if prediction == answer %}Correct{% else %}Incorrect{% endif %}',
};

// LLMOPS_BENCH_PY_AGGREGATION=1: the flow evaluator also aggregates its grades in Python (as the template's
// evaluators do), so its whole column goes to the Python worker.
if (process.env.LLMOPS_BENCH_PY_AGGREGATION === '1') {
  files['flows/grade/flow.dag.yaml'] += `- name: accuracy
  type: python
  source:
    type: code
    path: accuracy.py
  inputs:
    grades: \${grade.output}
  aggregation: true
`;
  files['flows/grade/accuracy.py'] = `from promptflow.core import log_metric, tool


@tool
def accuracy(grades: list):
    log_metric("accuracy", round(sum(g == "Correct" for g in grades) / max(len(grades), 1), 4))
    return len(grades)
`;
}

/** The model server echoes "user: <question>": four lines in five carry that as their answer. */
async function writeDataset(file: string, n: number): Promise<void> {
  const out = createWriteStream(file);
  let chunk = '';
  for (let i = 0; i < n; i++) {
    const question = `question ${i}`;
    chunk += `${JSON.stringify({ question, answer: i % 5 === 4 ? 'something else' : `user: ${question}` })}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

async function startModelServer(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [cli, 'model-server', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  for await (const chunk of child.stdout!) {
    text += String(chunk);
    const url = text.match(/https?:\/\/\S+/)?.[0];
    if (url) return { url, child };
  }
  throw new Error(`the model server exited without printing its URL: ${text}`);
}

interface StepFigures {
  step: string;
  wallS: number;
  peakMb: number;
  /** The largest sum over the step's processes (the relaunching parent, its child, Python workers), sampled. */
  treeRssMb: number;
  /** The same sum of pages no other process shares (node's code, shared by the two node processes, left out). */
  treePrivateMb: number;
  exit: number;
}

/** The processes under `root` (Linux /proc), itself included. */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // "pid (comm) state ppid ...": comm may hold spaces, so read after its closing parenthesis.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    out.push(pid);
    for (const c of children.get(pid) ?? []) walk(c);
  };
  walk(root);
  return out;
}

/** kB of a /proc/<pid>/smaps_rollup field, 0 when the process is gone. */
function rollupKb(pid: number, fields: string[]): number {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    let kb = 0;
    for (const field of fields) kb += Number(text.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'))?.[1] ?? 0);
    return kb;
  } catch {
    return 0;
  }
}

/** Runs one CLI step under /usr/bin/time -v; its output goes to `<dir>/<step>.log`. */
async function step(name: string, args: string[], dir: string, env: NodeJS.ProcessEnv): Promise<StepFigures> {
  const stats = path.join(dir, `${name}.time`);
  const log = createWriteStream(path.join(dir, `${name}.log`));
  const t0 = performance.now();
  const child = spawn('/usr/bin/time', ['-v', '-o', stats, process.execPath, ...nodeFlags, cli, name, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const tree = { rss: 0, own: 0 };
  // /usr/bin/time gives the largest single process; the step may be two node processes (relaunched) and Python.
  const sampler = setInterval(() => {
    const pids = processTree(child.pid!).slice(1); // not /usr/bin/time itself
    let rss = 0;
    let own = 0;
    for (const pid of pids) {
      rss += rollupKb(pid, ['Rss']);
      own += rollupKb(pid, ['Private_Clean', 'Private_Dirty']);
    }
    tree.rss = Math.max(tree.rss, rss);
    tree.own = Math.max(tree.own, own);
  }, 200);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearInterval(sampler);
  const wallS = (performance.now() - t0) / 1000;
  const text = readFileSync(stats, 'utf8');
  const kb = Number(text.match(/Maximum resident set size \(kbytes\): (\d+)/)?.[1] ?? NaN);
  return {
    step: name,
    wallS,
    peakMb: kb / 1024,
    treeRssMb: tree.rss / 1024,
    treePrivateMb: tree.own / 1024,
    exit: code ?? -1,
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'llmops-million-'));
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content);
  }
  mkdirSync(path.join(dir, '.git'));
  mkdirSync(path.join(dir, 'data'));
  const t0 = performance.now();
  await writeDataset(path.join(dir, 'data/train.jsonl'), lines);
  process.stderr.write(`dataset: ${lines} lines in ${((performance.now() - t0) / 1000).toFixed(1)} s (${dir})\n`);
  const server = await startModelServer();
  const env = { ...process.env, AOAI_API_BASE: server.url, AOAI_API_KEY: 'bench-key-0001' };
  const common = ['--config', path.join(dir, 'experiment.yaml'), '--store', path.join(dir, '.llmops')];
  const figures: StepFigures[] = [];
  try {
    const run = (name: string, args: string[]) =>
      step(name, args, dir, env).then((f) => {
        figures.push(f);
        process.stderr.write(
          `${name}: exit ${f.exit}, ${f.wallS.toFixed(1)} s, ${f.peakMb.toFixed(0)} MB (processes together: RSS ${f.treeRssMb.toFixed(0)}, private ${f.treePrivateMb.toFixed(0)} MB)\n`,
        );
        return f;
      });
    const common2 = [...common, '--cache-mode', 'off', '--concurrency', String(concurrency)];
    if ((await run('bulk-run', common2)).exit === 0 && (await run('evaluate', common2)).exit === 0)
      await run('report', [...common, '--output-dir', path.join(dir, 'reports'), '--pr-comment', 'false']);
  } finally {
    server.child.kill();
  }
  // Evaluate runs two evaluators over every line: its lines/s counts evaluation lines.
  const work: Record<string, number> = { 'bulk-run': lines, evaluate: 2 * lines, report: lines };
  const out = [
    `| step | lines | wall (s) | lines/s | peak RSS (MB) | under ${BUDGET_MB} MB | processes together: RSS / private (MB) | exit |`,
    '|---|---|---|---|---|---|---|---|',
    ...figures.map(
      (f) =>
        `| ${f.step} | ${work[f.step].toLocaleString('en-US')} | ${f.wallS.toFixed(1)} | ${Math.round(work[f.step] / f.wallS).toLocaleString('en-US')} | ${f.peakMb.toFixed(0)} | ${f.peakMb < BUDGET_MB ? 'yes' : '**no**'} | ${f.treeRssMb.toFixed(0)} / ${f.treePrivateMb.toFixed(0)} | ${f.exit} |`,
    ),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  if (process.env.LLMOPS_BENCH_KEEP === '1') process.stderr.write(`kept ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
}

await main();

/**
 * Bundle sizes and cold start of every packaged action and task: time from spawning the
 * bundle (Node 24, as on the runner) to its first useful log line, i.e. the first stdout line
 * that is not a runner or agent command (::…, ##vso[…]), beside a bare `node -e` printing one
 * line, measured the same way and interleaved with it (these machines are shared: the ratio is
 * the figure that holds). Run after `npm run package` and `npm run package:ado`:
 *   npx esbuild bench/bundles.ts --bundle --platform=node --format=esm --packages=external --outfile=dist/.packaging/bench-bundles.mjs && node dist/.packaging/bench-bundles.mjs
 * BENCH_REPS (default 7) sets the repetitions; figures are medians. BENCH_STEPS (comma-separated)
 * limits the steps; BENCH_ADO=0 skips the tasks.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = process.cwd();
// The runner's runtime, from the locked runtimes (scripts/runtimes), whatever Node runs this script.
const node24 = path.join(
  execFileSync('bash', [path.join(root, 'scripts/node-runtimes.sh')], { encoding: 'utf8' }).trim(),
  'node_modules/node24/bin/node',
);
const reps = Number(process.env.BENCH_REPS ?? 7);

interface Meta {
  outputs: Record<string, { bytes: number; entryPoint?: string; imports: { path: string; kind: string }[] }>;
}

/** Bytes loaded at start (the entry and the chunks it imports statically) and in all (with on-demand chunks). */
function sizes(meta: Meta, entry: string): { start: number; all: number } {
  const seen = new Set<string>();
  const walk = (file: string, dynamic: boolean) => {
    if (seen.has(file) || !meta.outputs[file]) return;
    seen.add(file);
    for (const i of meta.outputs[file].imports)
      if (i.kind === 'import-statement' || (dynamic && i.kind === 'dynamic-import')) walk(i.path, dynamic);
  };
  walk(entry, false);
  const start = [...seen].reduce((n, f) => n + meta.outputs[f].bytes, 0);
  seen.clear();
  walk(entry, true);
  return { start, all: [...seen].reduce((n, f) => n + meta.outputs[f].bytes, 0) };
}

function firstUsefulLine(args: string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(node24, args, { cwd: root, env: { PATH: process.env.PATH ?? '', ...env } });
    let buffer = '';
    let firstLineMs: number | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      for (const line of buffer.split('\n').slice(0, -1)) {
        if (firstLineMs === undefined && line && !line.startsWith('::') && !line.startsWith('##vso['))
          firstLineMs = Number(process.hrtime.bigint() - started) / 1e6;
      }
    });
    // Resolved once the process is gone, so the next measurement never overlaps this one's tail.
    child.on('exit', () =>
      firstLineMs !== undefined
        ? resolve(firstLineMs)
        : reject(new Error(`${args.join(' ')}: no useful line:\n${buffer}`)),
    );
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const work = mkdtempSync(path.join(os.tmpdir(), 'llmops-bench-'));
writeFileSync(path.join(work, 'out'), '');
const common = {
  AOAI_API_BASE: 'http://127.0.0.1:9',
  AOAI_API_KEY: 'sk-bench',
  INPUT_CONFIG: 'examples/web_classification/experiment.yaml',
  INPUT_STORE: path.join(work, 'store'),
};
const rows: string[] = [];
const BARE = ['-e', "console.log('ready')"];
/** Median cold start of `args` and of bare Node, each rep of one right after the other. */
async function measure(args: string[], env: Record<string, string>): Promise<{ ms: number; bare: number }> {
  const times: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < reps; i++) {
    bare.push(await firstUsefulLine(BARE, {}));
    times.push(await firstUsefulLine(args, env));
  }
  return { ms: median(times), bare: median(bare) };
}
const row = (name: string, start: number, all: number, m: { ms: number; bare: number }) =>
  `| ${name} | ${(start / 1024).toFixed(0)} kB | ${(all / 1024).toFixed(0)} kB | ${m.ms.toFixed(0)} ms | ${m.bare.toFixed(0)} ms | ${(m.ms / m.bare).toFixed(2)} | ${(m.ms - m.bare).toFixed(0)} ms |`;
const actionsMeta = JSON.parse(readFileSync(path.join(root, 'dist/actions-meta.json'), 'utf8')) as Meta;
// Every packaged step: the entries of the action build (the root action only dispatches).
const only = process.env.BENCH_STEPS?.split(',');
const steps = Object.keys(actionsMeta.outputs)
  .map((f) => /^dist\/actions\/([^/_][^/]*)\/index\.js$/.exec(f)?.[1])
  .filter((s): s is string => Boolean(s) && (!only || only.includes(s!)));
for (const step of steps) {
  const file = `dist/actions/${step}/index.js`;
  const { start, all } = sizes(actionsMeta, file);
  rows.push(
    row(`action ${step}`, start, all, await measure([file], { ...common, GITHUB_OUTPUT: path.join(work, 'out') })),
  );
}
for (const step of process.env.BENCH_ADO === '0' ? [] : steps) {
  const metaFile = path.join(root, `dist/ado-meta-${step}.json`);
  const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as Meta;
  const entry = Object.keys(meta.outputs).find((f) => f.endsWith(`ado-tasks/${step}/dist/index.js`))!;
  const { start, all } = sizes(meta, entry);
  rows.push(row(`task ${step}`, start, all, await measure([entry], { ...common, AGENT_TEMPDIRECTORY: work })));
}
const vsix = path.join(root, 'dist/llmops-0.1.0.vsix');
rmSync(work, { recursive: true, force: true });
process.stdout.write(
  `Node ${execFileSync(node24, ['--version'], { encoding: 'utf8' }).trim()}, median of ${reps}\n\n` +
    `| bundle | loaded at start | with on-demand chunks | cold start to first useful line | bare \`node -e\` | ratio | added over bare |\n|---|---:|---:|---:|---:|---:|---:|\n${rows.join('\n')}\n` +
    (process.env.BENCH_ADO === '0' ? '' : `\n.vsix: ${(statSync(vsix).size / 1024).toFixed(0)} kB\n`),
);

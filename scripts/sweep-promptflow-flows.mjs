#!/usr/bin/env node
/**
 * Runs `llmops flow test <flow>` (one line) over every flow folder under the given folders — for
 * instance Prompt Flow's own tests/test_configs/flows and eager_flows — and prints one row per flow
 * (exit code, seconds, first error line) and the counts per exit code. Inputs are the flow's defaults,
 * over the first line of a sample file the folder holds (samples.json, inputs.json, inputs.jsonl,
 * data.jsonl) when there is one; --defaults-only skips the sample files. With --fill, a DAG flow's inputs
 * that still have no value get a stand-in of their type ("hello", 1, 1.5, true, [], {}), so flows written
 * for a dataset run too.
 *
 * Connections point at a local model server: the one given by --model-server <url>, else one this
 * script starts (and stops) from dist/cli.js. Build first (`npm run build`).
 *
 *   node scripts/sweep-promptflow-flows.mjs <folder>... [--jobs 2] [--timeout 90] [--json out.json]
 *        [--only name,name] [--model-server http://127.0.0.1:8080] [--fill] [--defaults-only]
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/cli.js');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const [, value] = args.splice(at, 2);
  return value;
};
const jobs = Number(option('--jobs', '2'));
const timeoutSeconds = Number(option('--timeout', '90'));
const jsonOut = option('--json', undefined);
const only = option('--only', undefined)?.split(',');
let modelServer = option('--model-server', undefined);
const defaultsOnly = args.includes('--defaults-only');
const fill = args.includes('--fill');
const folders = args.filter((a) => a !== '--defaults-only' && a !== '--fill');
if (folders.length === 0) {
  console.error(
    'usage: sweep-promptflow-flows.mjs <folder>... [--jobs n] [--timeout s] [--json file] [--only a,b] [--model-server url]',
  );
  process.exit(2);
}
const notFolders = folders.filter((f) => !existsSync(f) || !statSync(f).isDirectory());
if (notFolders.length > 0) {
  console.error(`not a folder: ${notFolders.join(', ')}`);
  process.exit(2);
}
if (!existsSync(cli)) {
  console.error(`${cli} not found: run npm run build first`);
  process.exit(2);
}

/** A folder is a flow when it holds a flow file; a lone .prompty file is one too. */
function flowsUnder(folder) {
  const found = [];
  for (const name of readdirSync(folder).sort()) {
    const full = path.join(folder, name);
    if (statSync(full).isDirectory()) {
      const files = readdirSync(full);
      if (files.some((f) => /^flow\.(dag|flex)\.ya?ml$/.test(f)) || files.some((f) => f.endsWith('.prompty')))
        found.push(full);
    } else if (name.endsWith('.prompty')) found.push(full);
  }
  return found;
}

const sampleFiles = ['samples.json', 'sample.json', 'inputs.json', 'inputs.jsonl', 'data.jsonl'];
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pf-sweep-'));

const standIns = { string: 'hello', int: 1, double: 1.5, bool: true, list: [], object: {} };

/** --fill: a stand-in for every input of a DAG flow that neither its default nor `given` provides. */
function filledInputs(flow, given) {
  const file = ['flow.dag.yaml', 'flow.dag.yml'].map((f) => path.join(flow, f)).find((f) => existsSync(f));
  if (!fill || !file) return given;
  let inputs;
  try {
    inputs = parseYaml(readFileSync(file, 'utf8'))?.inputs;
  } catch {
    return given;
  }
  if (!inputs || typeof inputs !== 'object') return given;
  const out = { ...(given ?? {}) };
  for (const [name, spec] of Object.entries(inputs)) {
    if (name in out || (spec && typeof spec === 'object' && 'default' in spec)) continue;
    const type = spec && typeof spec === 'object' ? spec.type : undefined;
    if (type in standIns) out[name] = spec.is_chat_history ? [] : standIns[type];
  }
  return Object.keys(out).length > 0 ? out : given;
}

/** The inputs to pass with --inputs-file (sample line, then --fill stand-ins), as a file; undefined for none. */
function sampleInputs(flow) {
  if (!statSync(flow).isDirectory()) return undefined;
  const inputs = filledInputs(flow, defaultsOnly ? undefined : sampleLine(flow));
  if (!inputs) return undefined;
  const out = path.join(scratch, `${path.basename(flow)}.json`);
  writeFileSync(out, JSON.stringify(inputs));
  return out;
}

/** The first line of the folder's sample file; undefined when none fits or the flex flow has its own `sample:`. */
function sampleLine(flow) {
  const flex = ['flow.flex.yaml', 'flow.flex.yml'].map((f) => path.join(flow, f)).find((f) => existsSync(f));
  if (flex && /^sample:/m.test(readFileSync(flex, 'utf8'))) return undefined;
  for (const name of sampleFiles) {
    const file = path.join(flow, name);
    if (!existsSync(file)) continue;
    try {
      const text = readFileSync(file, 'utf8');
      let line = name.endsWith('.jsonl')
        ? JSON.parse(text.split('\n').find((l) => l.trim()) ?? 'null')
        : JSON.parse(text);
      if (Array.isArray(line)) line = line[0];
      if (!line || typeof line !== 'object') continue;
      // sample.json in a flex flow's shape: {inputs: {...}, init: {...}}
      return name === 'sample.json' && line.inputs && typeof line.inputs === 'object' ? line.inputs : line;
    } catch {
      continue;
    }
  }
  return undefined;
}

function run(command, commandArgs, env, timeoutMs) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(command, commandArgs, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: signal ? 'timeout' : code, seconds: (Date.now() - started) / 1000, stdout, stderr });
    });
  });
}

function firstError(stderr) {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  // The CLI's own `error:` line says it best; the line error JSON's message comes next.
  const line =
    lines.find((l) => /: error: /.test(l)) ??
    lines.find((l) => /^error:/.test(l) && !/problems? found; nothing was run/.test(l)) ??
    lines.find((l) => /^"message":/.test(l)) ??
    lines.find((l) => /error|Error|failed|Traceback/.test(l) && !/^warning:/.test(l)) ??
    lines[0] ??
    '';
  return line.length > 220 ? `${line.slice(0, 217)}...` : line;
}

async function startModelServer() {
  const child = spawn(process.execPath, [cli, 'model-server', '--port', '0'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const url = await new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8');
    child.stdout.once('data', (text) => resolve(text.trim().split('\n')[0]));
    child.once('exit', (code) => reject(new Error(`model server exited with ${code}`)));
  });
  return { url, stop: () => child.kill('SIGTERM') };
}

const server = modelServer ? undefined : await startModelServer();
modelServer ??= server.url;
const env = {
  ...process.env,
  AZURE_OPENAI_ENDPOINT: modelServer,
  AZURE_OPENAI_API_KEY: 'sweep-key',
  OPENAI_API_KEY: 'sweep-key',
  OPENAI_BASE_URL: `${modelServer}/v1`,
};

const flows = folders.flatMap(flowsUnder).filter((f) => !only || only.includes(path.basename(f)));
const results = [];
let next = 0;
async function worker() {
  while (next < flows.length) {
    const flow = flows[next++];
    const inputs = sampleInputs(flow);
    const r = await run(
      process.execPath,
      [cli, 'flow', 'test', flow, ...(inputs ? ['--inputs-file', inputs] : [])],
      env,
      timeoutSeconds * 1000,
    );
    const row = {
      flow: `${path.basename(path.dirname(flow))}/${path.basename(flow)}`,
      inputs: inputs ? 'given' : 'defaults',
      exit: r.code,
      seconds: r.seconds,
      error: r.code === 0 ? '' : firstError(r.stderr),
    };
    results.push(row);
    process.stderr.write(`${String(row.exit).padEnd(7)} ${row.flow}\n`);
  }
}
try {
  await Promise.all(Array.from({ length: jobs }, worker));
} finally {
  server?.stop();
  rmSync(scratch, { recursive: true, force: true });
}

results.sort((a, b) => a.flow.localeCompare(b.flow));
const width = Math.max(...results.map((r) => r.flow.length), 4);
console.log(`${'flow'.padEnd(width)}  inputs    exit     s  first error line`);
for (const r of results)
  console.log(
    `${r.flow.padEnd(width)}  ${r.inputs.padEnd(9)} ${String(r.exit).padEnd(7)} ${r.seconds.toFixed(0).padStart(3)}  ${r.error}`,
  );
const counts = {};
for (const r of results) counts[r.exit] = (counts[r.exit] ?? 0) + 1;
console.log(
  `\n${results.length} flows: ${Object.entries(counts)
    .map(([k, v]) => `exit ${k}: ${v}`)
    .join(', ')}`,
);
if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(results, null, 2)}\n`);

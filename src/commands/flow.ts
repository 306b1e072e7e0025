/**
 * `llmops flow test` (one line, outputs as JSON on stdout) and `llmops flow run` (a batch run into the run
 * store, `.llmops/runs/<run-id>/`). Logs go to stderr. Run-level problems exit 2; failed lines never fail a run.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { runWithHost } from '../cli-support.js';
import type { Connection } from '../shared/config/connections.js';
import { ConfigError, formatLocation, GateFailed } from '../shared/errors.js';
import { applyVariant, loadFlow, parseVariantSpec } from '../shared/flow/index.js';
import {
  connectionFromEnv,
  createExecutor,
  LlmService,
  loadConnections,
  type PythonRequirementsMode,
} from '../shared/engine/index.js';
import { stringifyPyJson } from '../shared/engine/python-worker/index.js';
import {
  parseMappingPairs,
  plainProgress,
  runBatch,
  RunStore,
  type ProgressReporter,
  type RunSummary,
} from '../shared/runs/index.js';
import { ResponseCache, type CacheMode } from '../shared/llm/index.js';
import { findJsonFault, lineColumnOf } from '../shared/data/json-scan.js';
import { dataLimits } from '../shared/data/lines.js';
import { resolve as resolvePath } from 'node:path';
import { redactionKindsFromEnv } from '../shared/safety/redact-everywhere.js';
import { redactingWriters } from '../shared/safety/redacting-host.js';
import { sharedRedactor } from '../shared/safety/redactor.js';

/** `--init name=value` (repeatable) and `--init-file <json>`: a flex class entry's `__init__` arguments. */
export interface InitOptions {
  init?: string[];
  initFile?: string;
}

export interface FlowTestOptions extends InitOptions {
  inputs?: string[];
  inputsFile?: string;
  /** Folder images in the outputs are saved to (default: a new folder under the system's temp folder). */
  outputDir?: string;
  variant?: string;
  connections?: string;
}

export interface FlowRunOptions extends InitOptions {
  data?: string;
  columnMapping?: string[];
  variant?: string;
  run?: string;
  name?: string;
  concurrency?: string;
  connections?: string;
  resume?: string;
  cacheMode?: string;
  store?: string;
  pythonRequirements?: string;
}

export interface FlowIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean };
}

const STD: FlowIo = { stdout: process.stdout, stderr: process.stderr };

/** Connections from --connections (file or folder), plus an environment connection used for undefined names. */
export function cliConnections(
  path: string | undefined,
  io: FlowIo,
): { connections: Connection[]; fallback?: Connection } {
  const connections = path ? loadConnections(path) : [];
  const fallback = connectionFromEnv();
  if (fallback && connections.length === 0)
    io.stderr.write(`using ${fallback.type} from the environment for connections the flow names\n`);
  return { connections, fallback };
}

/**
 * A JSON object file given where Prompt Flow's CLI accepts one (`--inputs sample.json`, `--init init.json`): a .json
 * file holds the object, a .jsonl file's first line does (inputs: a .json list's first item too).
 */
function readJsonObjectFile(file: string, what: string, firstOfList = false): Record<string, unknown> {
  let text: string;
  try {
    const whole = readFileSync(file, 'utf8');
    text = file.endsWith('.jsonl') ? (whole.split(/\r?\n/).find((l) => l.trim()) ?? '') : whole;
  } catch (e) {
    throw ConfigError.at({ file }, `cannot read ${what}: ${(e as Error).message}; expected a JSON object`);
  }
  // The data reader's depth limit and error positions hold for a line given as a file too.
  const fault = findJsonFault(text, dataLimits().maxDepth);
  if (fault)
    throw ConfigError.at(
      { file, ...lineColumnOf(text, fault.offset) },
      `invalid ${what}: ${fault.message}; expected a JSON object`,
    );
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw ConfigError.at({ file }, `cannot read ${what}: ${(e as Error).message}; expected a JSON object`);
  }
  // A .json list of lines (Prompt Flow's samples.json) gives its first line, as a .jsonl file does.
  if (firstOfList && Array.isArray(v) && v.length > 0) v = v[0];
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw ConfigError.at(
      { file },
      `found ${Array.isArray(v) ? 'an empty list' : v === null ? 'null' : `a ${typeof v}`}, expected a JSON object of ${what}${firstOfList ? ' (or a list of them: the first is used)' : ''}`,
    );
  return v as Record<string, unknown>;
}

/** `--inputs sample.json` / `--init init.json` as Prompt Flow's CLI takes them: a lone value naming a JSON file. */
function isJsonFileArgument(value: string): boolean {
  return !value.includes('=') && /\.jsonl?$/i.test(value) && existsSync(value);
}

/** Parses `k=v` inputs (values stay strings: the flow's input types coerce them, as Prompt Flow does). */
export function parseInputPairs(pairs: readonly string[] = [], file?: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (file) Object.assign(out, readJsonObjectFile(file, 'inputs', true));
  for (const p of pairs) {
    if (isJsonFileArgument(p)) {
      Object.assign(out, readJsonObjectFile(p, 'inputs', true));
      continue;
    }
    const i = p.indexOf('=');
    if (i <= 0)
      throw ConfigError.at(
        { file: '--inputs' },
        `found ${JSON.stringify(p)}, expected name=value or a .json/.jsonl file of inputs`,
      );
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}

/**
 * The caller's init arguments: the file's JSON values, then `name=value` pairs as text (converted by the type
 * declared in flow.flex.yaml or by the `__init__` annotation; `model_config='{"connection": "aoai"}'` as JSON).
 * A lone `--init init.json` is a file of JSON values, as in Prompt Flow's CLI.
 */
export function parseInitOptions(opts: InitOptions): { init?: Record<string, unknown>; initText?: string[] } {
  if (!opts.init?.length && !opts.initFile) return {};
  const init: Record<string, unknown> = {};
  if (opts.initFile) Object.assign(init, readJsonObjectFile(opts.initFile, '__init__ arguments'));
  const initText: string[] = [];
  for (const p of opts.init ?? []) {
    if (isJsonFileArgument(p)) {
      Object.assign(init, readJsonObjectFile(p, '__init__ arguments'));
      continue;
    }
    const i = p.indexOf('=');
    if (i <= 0)
      throw ConfigError.at(
        { file: '--init' },
        `found ${JSON.stringify(p)}, expected name=value or a .json file of __init__ arguments`,
      );
    init[p.slice(0, i)] = p.slice(i + 1);
    initText.push(p.slice(0, i));
  }
  return { init, initText };
}

/** `flow test`: runs one line (plus aggregation over it) and returns the outputs. A failed line → GateFailed (exit 1). */
export async function flowTestAction(
  flowPath: string,
  opts: FlowTestOptions,
  io: FlowIo = STD,
): Promise<Record<string, unknown>> {
  let flow = loadFlow(flowPath);
  if (opts.variant) {
    if (flow.kind !== 'dag') throw ConfigError.at({ file: '--variant' }, `a ${flow.kind} flow has no variants`);
    const v = parseVariantSpec(opts.variant, { file: '--variant' });
    flow = applyVariant(flow, { [v.node]: v.variantId });
  }
  for (const w of flow.warnings) io.stderr.write(`${formatLocation(w)}: warning: ${w.message}\n`);
  const { connections, fallback } = cliConnections(opts.connections, io);
  let inputs = parseInputPairs(opts.inputs, opts.inputsFile);
  if (Object.keys(inputs).length === 0 && flow.kind === 'flex' && flow.sample?.inputs)
    inputs = { ...flow.sample.inputs };
  if (Object.keys(inputs).length === 0 && flow.kind === 'prompty' && flow.sample && typeof flow.sample === 'object')
    inputs = { ...(flow.sample as Record<string, unknown>) };
  const { init, initText } = parseInitOptions(opts);
  if (init && flow.kind !== 'flex')
    throw ConfigError.at(
      { file: '--init' },
      `a ${flow.kind} flow takes no init arguments; expected a flex flow (flow.flex.yaml) with a class entry`,
    );
  const llm = new LlmService({});
  // Images in the outputs are saved as files there, and the outputs name them relative to it (§2.6).
  const outputDir = resolve(opts.outputDir ?? join(tmpdir(), `llmops-flow-test-${randomBytes(4).toString('hex')}`));
  const dataDir = opts.inputsFile ? dirname(resolve(opts.inputsFile)) : undefined;
  const executor = await createExecutor(flow, {
    connections,
    fallbackConnection: fallback,
    lineTimeoutMs: 0,
    init,
    initText,
    llm,
    images: { root: outputDir },
    dataDir,
  });
  try {
    const r = await executor.runLine(inputs, { lineNumber: 0 });
    if (r.status !== 'Completed') {
      io.stderr.write(`${JSON.stringify(r.error, null, 2)}\n`);
      const down = llm.unreachable();
      if (down) throw down; // the model endpoint could not be reached: exit 3
      throw new GateFailed(`flow test failed: ${r.error?.message ?? 'unknown error'}`);
    }
    if (executor.hasAggregation) {
      const agg = await executor.aggregate([{ outputs: r.outputs, aggregationInputs: r.aggregationInputs }]);
      if (Object.keys(agg.metrics).length > 0) io.stderr.write(`metrics: ${stringifyPyJson(agg.metrics)}\n`);
      if (agg.error) io.stderr.write(`aggregation node ${agg.error.node} failed: ${agg.error.error.message}\n`);
    }
    io.stderr.write(`line completed in ${r.latencyMs.toFixed(1)} ms, ${r.usage.totalTokens} tokens\n`);
    if (existsSync(outputDir)) io.stderr.write(`images in the outputs are saved in ${outputDir}\n`);
    io.stdout.write(`${stringifyPyJson(r.outputs, 2)}\n`);
    return r.outputs!;
  } finally {
    await executor.close();
  }
}

function barProgress(io: FlowIo): ProgressReporter {
  const bar = new SingleBar(
    {
      format: 'lines {bar} {value}/{total} | {failed} failed | {rate} lines/s | ETA {eta_formatted}',
      stream: io.stderr as NodeJS.WritableStream,
      hideCursor: true,
    },
    Presets.shades_classic,
  );
  return {
    start: (s) => bar.start(s.total, s.done, { failed: s.failed, rate: '0' }),
    update: (s) => bar.update(s.done, { failed: s.failed, rate: s.rate.toFixed(1) }),
    finish: (s) => {
      bar.update(s.done, { failed: s.failed, rate: s.rate.toFixed(1) });
      bar.stop();
    },
  };
}

const CACHE_MODES = ['read', 'write', 'readwrite', 'off', 'replay'];

/** `flow run`: a batch run; prints the summary as JSON on stdout. */
export async function flowRunAction(
  flowPath: string | undefined,
  opts: FlowRunOptions,
  io: FlowIo = STD,
  signal?: AbortSignal,
): Promise<RunSummary> {
  if (!opts.resume && !flowPath)
    throw ConfigError.at({ file: 'flow run' }, 'expected a flow path (or --resume <run-id>)');
  if (!opts.resume && !opts.data) throw ConfigError.at({ file: '--data' }, 'expected a data file (--data data.jsonl)');
  const concurrency = opts.concurrency === undefined ? undefined : Number(opts.concurrency);
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1))
    throw ConfigError.at(
      { file: '--concurrency' },
      `found ${JSON.stringify(opts.concurrency)}, expected a whole number >= 1`,
    );
  if (opts.cacheMode && !CACHE_MODES.includes(opts.cacheMode))
    throw ConfigError.at(
      { file: '--cache-mode' },
      `found ${JSON.stringify(opts.cacheMode)}, expected one of ${CACHE_MODES.join(', ')}`,
    );
  const { connections, fallback } = cliConnections(opts.connections, io);
  const progress = io.stderr.isTTY ? barProgress(io) : plainProgress((l) => io.stderr.write(`${l}\n`));
  const { init, initText } = parseInitOptions(opts);
  const storeRoot = resolvePath(opts.store ?? '.llmops');
  const cacheMode = opts.cacheMode as CacheMode | undefined;
  const llm = new LlmService({
    cache:
      cacheMode && cacheMode !== 'off'
        ? new ResponseCache({ root: new RunStore(storeRoot).cacheDir, mode: cacheMode })
        : undefined,
  });
  const summary = await runBatch({
    llm,
    flow: flowPath,
    data: opts.data,
    columnMapping: opts.columnMapping ? parseMappingPairs(opts.columnMapping) : undefined,
    variant: opts.variant,
    referencedRun: opts.run,
    runId: opts.name,
    resume: opts.resume,
    concurrency,
    connections,
    fallbackConnection: fallback,
    cacheMode: opts.cacheMode as CacheMode | undefined,
    storeRoot: opts.store,
    init,
    initText,
    pythonRequirements: opts.pythonRequirements as PythonRequirementsMode | undefined,
    log: (m: string) => io.stderr.write(`${m}\n`),
    progress,
    signal,
  });
  io.stderr.write(
    `run ${summary.runId}: ${summary.status}, ${summary.counts.completed} completed, ${summary.counts.failed} failed → ${summary.dir}\n`,
  );
  if (summary.error) io.stderr.write(`${summary.error}\n`);
  io.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  const down = llm.unreachable();
  if (down) throw down; // the run is recorded; the model endpoint could not be reached: exit 3
  return summary;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Adds `llmops flow test` and `llmops flow run`. */
export function registerFlowCommands(program: Command): void {
  const flow = program
    .command('flow')
    .description('Run Prompt Flow flows natively: test one line, or run a dataset into the run store.');
  flow
    .command('test <flow>')
    .description(
      'Run one line of a flow (dag folder, flow.dag.yaml, flow.flex.yaml or .prompty); print its outputs as JSON.',
    )
    .option(
      '--inputs <name=value...>',
      'a flow input (repeatable), or a .json/.jsonl file of inputs as with pf; values are coerced by the declared input types',
      collect,
    )
    .option(
      '--inputs-file <file>',
      'flow inputs as a JSON object (relative image paths in it are read from its folder)',
    )
    .option('--variant <spec>', "variant of one node: '${node.variant_id}'")
    .option(
      '--connections <file-or-folder>',
      'Prompt Flow connection YAML file(s); ${env:VAR} values are read from the environment',
    )
    .option(
      '--init <name=value...>',
      "a flex class entry's __init__ argument (repeatable), or a .json file of them as with pf; over init.json and flow.flex.yaml init: defaults",
      collect,
    )
    .option('--init-file <file>', '__init__ arguments as a JSON object')
    .option(
      '--output-dir <dir>',
      'folder images in the outputs are saved to, named relative to it (default: a new temporary folder)',
    )
    .addHelpText(
      'after',
      `
Examples:
  $ llmops flow test examples/web_classification/flows/experiment --inputs url=https://www.imdb.com/title/tt0111161/ --connections conns/
  $ llmops flow test flows/chat --inputs-file line.json --variant '\${summarize.variant_1}'
  $ llmops flow test basic.prompty --inputs question="What is Prompt Flow?"
  $ llmops flow test flows/eval_checklist --init init.json --inputs sample.json     # pf's form
  $ llmops flow test flows/chat_basic --init max_total_token=2048 --init model_config='{"connection": "aoai", "azure_deployment": "gpt-35-turbo"}'
A class entry's __init__ arguments: flow.flex.yaml init: defaults < init.json beside it < --init-file < --init.
Without --connections, AZURE_OPENAI_ENDPOINT/AZURE_OPENAI_API_KEY or OPENAI_API_KEY[/OPENAI_BASE_URL] stand in for every connection name.`,
    )
    .action(async (path: string, opts: FlowTestOptions) => {
      await runWithHost({}, async () => {
        await flowTestAction(path, opts);
      });
    });
  flow
    .command('run [flow]')
    .description(
      'Run a flow over a dataset into .llmops/runs/<run-id>/ (run.json, outputs.jsonl, metrics.json, error.json).',
    )
    .option('--data <file>', 'data file or folder (.jsonl, .json, .csv, .tsv)')
    .option(
      '--column-mapping <input=value...>',
      "map a flow input: '${data.col}', '${run.outputs.x}', '${run.inputs.x}' or a literal (repeatable)",
      collect,
    )
    .option('--variant <spec>', "variant of one node: '${node.variant_id}'")
    .option('--run <run-id>', 'a finished run whose outputs/inputs the mapping may reference')
    .option(
      '--name <run-id>',
      'the new run id (default: <flow>.<variant>.<data file>.<yyyymmdd-hhmm>.<4 hex>, .2, .3... when taken)',
    )
    .option('--concurrency <n>', 'lines at once (default 8)')
    .option('--connections <file-or-folder>', 'Prompt Flow connection YAML file(s)')
    .option('--resume <run-id>', 'finish an interrupted run: only lines without a record run again')
    .option(
      '--init <name=value...>',
      "a flex class entry's __init__ argument (repeatable), or a .json file of them as with pf; over init.json and flow.flex.yaml init: defaults",
      collect,
    )
    .option('--init-file <file>', '__init__ arguments as a JSON object')
    .addOption(new Option('--cache-mode <mode>', 'LLM response cache under .llmops/cache').choices(CACHE_MODES))
    .option('--store <dir>', 'run store root (default .llmops)')
    .addOption(
      new Option(
        '--python-requirements <mode>',
        "check: the modules the flow's Python imports must be installed (default); install: install its requirements.txt into <store>/venvs/<hash> first; off",
      ).choices(['check', 'install', 'off']),
    )
    .addHelpText(
      'after',
      `
Examples:
  $ llmops flow run examples/web_classification/flows/experiment --data examples/web_classification/data/data.jsonl \\
      --column-mapping url='\${data.url}' --connections conns/ --concurrency 16
  $ llmops flow run flows/evaluation --data data/eval.jsonl --run <run-id> \\
      --column-mapping groundtruth='\${data.answer}' prediction='\${run.outputs.category}'
  $ llmops flow run --resume <run-id>          # after Ctrl-C or a crash
A failed line is recorded with its error and never fails the run; an unresolvable mapping exits 2 before any model call.`,
    )
    .action(async (path: string | undefined, opts: FlowRunOptions) => {
      const controller = new AbortController();
      const onSignal = () => {
        process.stderr.write('interrupted: finishing the record file; resume with --resume\n');
        controller.abort();
      };
      process.once('SIGINT', onSignal);
      try {
        await runWithHost({}, async () => {
          // LLMOPS_REDACT_PII: the run's own report and messages are redacted like the host's lines.
          const kinds = redactionKindsFromEnv(process.env);
          const redacting = kinds ? redactingWriters(sharedRedactor(kinds)) : undefined;
          const io: FlowIo = redacting
            ? {
                stdout: { write: redacting.wrap((t) => STD.stdout.write(t)) },
                stderr: { write: redacting.wrap((t) => STD.stderr.write(t)) },
              }
            : STD;
          try {
            await flowRunAction(path, opts, io, controller.signal);
          } finally {
            await redacting?.settled();
          }
        });
      } finally {
        process.off('SIGINT', onSignal);
      }
    });
}

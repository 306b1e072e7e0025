/**
 * Runs a code-only evaluator (an `eval_*.py` folder) the way the seed template does: every `eval_*`
 * function is called once per evaluation dataset with `(run_name, data_path, column_mapping,
 * output_path)` in the Python worker, where the evaluation SDK it calls is our stand-in (or the real
 * package when installed). What it produced — the dict `evaluate()` returns, or the JSON file it wrote
 * under output_path — becomes an evaluation run in the run store: one line per data row with the
 * `<evaluator>.<score>` columns, the line errors, and the aggregated metrics.
 * @module
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { assetPath } from '../../assets.js';
import type { Connection } from '../../config/connections.js';
import type { CodeEvaluatorFunction, CodeEvaluatorRef } from '../../flow/index.js';
import { ConfigError, type Problem } from '../../errors.js';
import {
  connectionMap,
  emptyUsage,
  makeCallbacks,
  PromptyCache,
  PythonCodeError,
  PythonWorkerPool,
  toRuntimeConnection,
  type LlmService,
  type PfError,
} from '../../engine/index.js';
import { parsePyJson, PythonWorkerCrashed } from '../../engine/python-worker/index.js';
import { loadTokenizers } from '../../llm/index.js';
import {
  RunStore,
  scanData,
  type RunWriter,
  type LineRecord,
  type ProgressReporter,
  type RunRecord,
  type RunSummary,
} from '../../runs/index.js';
import { codeEvaluatorCallback, type CodeEvalContext, type CodeEvalLineError } from './engine-callback.js';
import { plainNumbers, ResultRows } from './result-rows.js';

export interface CodeEvaluatorSessionOptions {
  name: string;
  code: CodeEvaluatorRef;
  /** The use case folder: its parent is the working directory, as in the template (`<use case>.flows.<folder>` imports). */
  useCaseDir: string;
  /** The standard flow's folder: on sys.path, as the template puts it there. */
  flowDir: string;
  python?: string;
  connections: Connection[];
  llm: LlmService;
  /** Environment of the use case (environment/env.yaml), for the evaluator's code. */
  env?: Record<string, string>;
  /** Lines evaluate() works on at once (target calls and evaluator calls). */
  concurrency: number;
  /** Paths in messages are relative to this folder. */
  displayBase?: string;
}

/** An evaluator folder's functions imported in a worker, ready to run on any dataset. */
export interface CodeEvaluatorSession {
  run(job: CodeEvaluatorJob): Promise<RunSummary>;
  close(): Promise<void>;
}

export interface CodeEvaluatorJob {
  runId: string;
  storeRoot: string;
  /** The template's run_name (`<experiment>_eval_<timestamp>`). */
  runName: string;
  data: string;
  mappings: Record<string, unknown>;
  referencedRun?: string;
  progress?: ProgressReporter;
  /** The Azure ML data asset version the data was read from (lineage in run.json). */
  dataAsset?: { asset: string; dataUri: string; hash?: string };
  /** Rewrites a line's record before the store keeps it (PII redaction, when configured). */
  redactRecord?: (record: LineRecord) => Promise<LineRecord>;
}

/**
 * Starts a worker for the folder and imports every eval_* function before any model call: an import
 * or syntax error of the user's code is a ConfigError (exit 2) at the file and line Python names.
 */
export async function openCodeEvaluator(o: CodeEvaluatorSessionOptions): Promise<CodeEvaluatorSession> {
  const workingDir = path.dirname(o.useCaseDir);
  // Flow code run as a target may count tokens (Prompty.estimate_token_count), which needs the tokenizers.
  await loadTokenizers();
  const connections = connectionMap(o.connections);
  const prompties = new PromptyCache(connections);
  const pythonPath = [o.flowDir, o.code.path, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter);
  const pool = new PythonWorkerPool({
    workingDir,
    python: o.python,
    env: { ...o.env, PYTHONPATH: pythonPath, LLMOPS_EVAL_CONCURRENCY: String(Math.max(1, o.concurrency)) },
    connections: Object.fromEntries(Object.values(connections).map((c) => [c.name, toRuntimeConnection(c)])),
    callbacks: { ...makeCallbacks(o.llm, prompties), codeEvaluator: codeEvaluatorCallback(o.llm, prompties) },
    callTimeoutMs: 0,
  });
  const keys = new Map<CodeEvaluatorFunction, string>();
  const problems: Problem[] = [];
  for (const fn of o.code.functions) {
    try {
      const info = await pool.flexInit(
        `${moduleName(fn, workingDir)}:${fn.name}`,
        {},
        { workingDir: moduleName(fn, workingDir) === fn.module ? o.code.path : workingDir },
      );
      keys.set(fn, info.key);
    } catch (e) {
      if (!(e instanceof PythonCodeError)) {
        await pool.close();
        throw e;
      }
      problems.push({
        ...userFrame(e.info.traceback, fn, o.displayBase),
        message: `evaluator "${o.name}": cannot import ${fn.name} from ${path.basename(fn.file)}: ${e.info.type ? `(${e.info.type}) ` : ''}${e.info.excMessage || e.message}`,
      });
    }
  }
  if (problems.length) {
    await pool.close();
    throw new ConfigError(problems);
  }
  return {
    run: (job) => runJob(o, pool, keys, job),
    close: () => pool.close(),
  };
}

/**
 * The template imports `<use case>/flows/<folder>/eval_x.py` as `<use case>.flows.<folder>.eval_x` from
 * the use case's parent folder; that works when every part is a Python identifier, else the file's stem
 * is imported from its own folder.
 */
function moduleName(fn: CodeEvaluatorFunction, workingDir: string): string {
  const parts = path.relative(workingDir, fn.file).replace(/\.py$/, '').split(path.sep);
  return parts.every((p) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(p)) ? parts.join('.') : fn.module;
}

/** The innermost frame of the user's files in a Python traceback, else the function's own line. */
function userFrame(
  traceback: string,
  fn: CodeEvaluatorFunction,
  displayBase?: string,
): { file: string; line?: number } {
  const ours = assetPath('src/shared/engine/python');
  const frames = [...traceback.matchAll(/File "([^"]+)", line (\d+)/g)].filter(
    (m) => !path.resolve(m[1]).startsWith(ours + path.sep) && !m[1].startsWith('<'),
  );
  const last = frames[frames.length - 1];
  const shown = (f: string) => (displayBase ? path.relative(displayBase, f) || f : f);
  return last ? { file: shown(path.resolve(last[1])), line: Number(last[2]) } : { file: shown(fn.file), line: fn.line };
}

interface FunctionResult {
  fn: CodeEvaluatorFunction;
  /** Its rows, in a file until they are merged (absent when the function failed). */
  rows?: ResultRows;
  metrics: Record<string, unknown>;
  lineErrors: CodeEvalLineError[];
  error?: string;
}

async function runJob(
  o: CodeEvaluatorSessionOptions,
  pool: PythonWorkerPool,
  keys: Map<CodeEvaluatorFunction, string>,
  job: CodeEvaluatorJob,
): Promise<RunSummary> {
  const started = Date.now();
  // A code evaluator is one call per function: nothing to resume line by line, so a rerun starts clean.
  const store = new RunStore(job.storeRoot);
  store.remove(job.runId);
  const record: RunRecord = {
    version: 1,
    id: job.runId,
    status: 'Running',
    flow: { path: o.code.path, kind: 'flex', name: o.name },
    variant: { id: 'default', selection: {} },
    data: [job.data],
    column_mapping: job.mappings,
    ...(job.referencedRun ? { referenced_run: job.referencedRun } : {}),
    ...(job.dataAsset
      ? { data_asset: { asset: job.dataAsset.asset, data_uri: job.dataAsset.dataUri, hash: job.dataAsset.hash } }
      : {}),
    concurrency: o.concurrency,
    counts: { total: 0, completed: 0, failed: 0 },
    timings: { created_at: new Date(started).toISOString(), started_at: new Date(started).toISOString() },
    tokens: { prompt: 0, completion: 0, total: 0 },
    llm_calls: 0,
  };
  const writer = store.begin(record);
  const usage = emptyUsage();
  const outputDir = path.join(writer.dir, 'evaluation');
  const dataRows = (await scanData(job.data)).rows;
  job.progress?.start({ total: dataRows, done: 0, failed: 0, skipped: 0, elapsedMs: 0, rate: 0 });
  const results: FunctionResult[] = [];
  try {
    for (const fn of o.code.functions) {
      mkdirSync(outputDir, { recursive: true });
      const before = new Set(readdirSync(outputDir));
      const context: CodeEvalContext = { usage: [usage], lineErrors: [] };
      // Rows the worker sends in parts (a large evaluation) go to this file as they come.
      const rows = new ResultRows(path.join(outputDir, `.${fn.name}.rows.jsonl`));
      const args = {
        [fn.params[0]]: job.runName,
        [fn.params[1]]: job.data,
        [fn.params[2]]: job.mappings,
        [fn.params[3]]: `${outputDir}${path.sep}`,
      };
      try {
        const r = await pool.flexCall(keys.get(fn)!, args, { context, onRows: (part) => rows.add(part) });
        keepOutput(outputDir, fn, r.stdout, r.stderr);
        const produced = resultOf(r.output) ?? resultInFiles(outputDir, before);
        if (produced) rows.add(produced.rows);
        else rows.remove();
        if (!produced)
          results.push({
            fn,
            metrics: {},
            lineErrors: context.lineErrors,
            error: `${fn.name} (${path.basename(fn.file)}:${fn.line}) returned no evaluation results: expected it to return the dict evaluate() gives (rows and metrics), or to write it as JSON under output_path`,
          });
        else results.push({ fn, rows, metrics: produced.metrics, lineErrors: context.lineErrors });
      } catch (e) {
        rows.remove();
        if (e instanceof PythonWorkerCrashed) {
          // The user's code ended the Python process (os._exit, a crashing extension): this function's failure.
          results.push({
            fn,
            metrics: {},
            lineErrors: context.lineErrors,
            error: `${fn.name} (${path.basename(fn.file)}:${fn.line}) stopped the Python process: ${e.message}`,
          });
          continue;
        }
        if (!(e instanceof PythonCodeError)) throw e;
        keepOutput(outputDir, fn, e.stdout, e.stderr + (e.info.traceback ? `\n${e.info.traceback}` : ''));
        const at = userFrame(e.info.traceback, fn);
        results.push({
          fn,
          metrics: {},
          lineErrors: context.lineErrors,
          error: `${fn.name} failed at ${at.file}:${at.line ?? '?'}: (${e.info.type}) ${e.info.excMessage}`,
        });
      }
    }
    const metrics = mergedMetrics(results);
    let firstLineError: string | undefined;
    for await (const merged of mergedLines(results, dataRows)) {
      const line = job.redactRecord ? await job.redactRecord(merged) : merged;
      if (!writer.append(line)) await writer.drain();
      record.counts.total++;
      if (line.status === 'Completed') record.counts.completed++;
      else {
        record.counts.failed++;
        firstLineError ??= line.error?.message;
      }
    }
    for (const r of results) r.rows?.remove();
    await writer.close();
    writer.writeMetrics(metrics);
    const failures = results.filter((r) => r.error).map((r) => r.error!);
    // Failed lines say why in the step's verdict too, as a flow evaluation's run does.
    const lineFailures =
      failures.length === 0 && record.counts.failed > 0
        ? [
            `Failed to run ${record.counts.failed}/${record.counts.total} lines. First error message is: ${firstLineError ?? ''}`,
          ]
        : [];
    if (failures.length || lineFailures.length) {
      record.error = [...failures, ...lineFailures].join('; ');
      writer.writeError({ message: record.error });
    }
    record.status = failures.length === results.length ? 'Failed' : 'Completed';
    return finish(o, record, writer, usage, started, metrics, job);
  } catch (e) {
    record.status = 'Failed';
    record.error = (e as Error).message;
    writer.saveRun();
    throw e;
  }
}

function finish(
  o: CodeEvaluatorSessionOptions,
  record: RunRecord,
  writer: RunWriter,
  usage: ReturnType<typeof emptyUsage>,
  started: number,
  metrics: Record<string, number>,
  job: CodeEvaluatorJob,
): RunSummary {
  const durationMs = Date.now() - started;
  record.tokens = { prompt: usage.promptTokens, completion: usage.completionTokens, total: usage.totalTokens };
  record.llm_calls = usage.llmCalls;
  if (usage.costUsd !== undefined) record.cost_usd = usage.costUsd;
  record.timings = { ...record.timings, ended_at: new Date().toISOString(), duration_ms: durationMs };
  writer.saveRun();
  job.progress?.finish({
    total: record.counts.total,
    done: record.counts.total,
    failed: record.counts.failed,
    skipped: 0,
    elapsedMs: durationMs,
    rate: record.counts.total / Math.max(0.001, durationMs / 1000),
  });
  return {
    runId: record.id,
    dir: writer.dir,
    status: record.status,
    counts: record.counts,
    skipped: 0,
    metrics,
    tokens: record.tokens,
    costUsd: usage.costUsd,
    llmCalls: usage.llmCalls,
    durationMs,
    ...(record.error ? { error: record.error } : {}),
  };
}

/** What the function printed, beside its results (`evaluation/<function>.log`): the template's functions print their progress. */
function keepOutput(dir: string, fn: CodeEvaluatorFunction, stdout: string, stderr: string): void {
  const text = [stdout, stderr].filter((t) => t.trim() !== '').join('\n');
  if (text) writeFileSync(path.join(dir, `${fn.name}.log`), text);
}

/**
 * The SDK's result dict: `{rows: [...], metrics: {...}}`; rows the worker already sent in parts (then `rows` is
 * `{"$llmops_rows_sent": n}`) are not in it.
 */
function resultOf(result: unknown): { rows: unknown[]; metrics: Record<string, unknown> } | undefined {
  if (!result || typeof result !== 'object' || Array.isArray(result)) return undefined;
  const v = result as { rows?: unknown; metrics?: unknown };
  const sent = v.rows && typeof v.rows === 'object' && '$llmops_rows_sent' in v.rows;
  if (!Array.isArray(v.rows) && !sent) return undefined;
  const metrics = plainNumbers(v.metrics);
  return {
    rows: Array.isArray(v.rows) ? v.rows.filter((r) => r && typeof r === 'object') : [],
    metrics: metrics && typeof metrics === 'object' ? (metrics as Record<string, unknown>) : {},
  };
}

/** A result the function wrote under output_path instead of returning it (the newest JSON file holding rows). */
function resultInFiles(dir: string, before: Set<string>): ReturnType<typeof resultOf> {
  const files = readdirSync(dir)
    .filter((n) => n.endsWith('.json') && !before.has(n))
    .map((n) => path.join(dir, n))
    .filter((f) => statSync(f).isFile());
  files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  for (const file of files) {
    try {
      const found = resultOf(parsePyJson(readFileSync(file, 'utf8')));
      if (found) return found;
    } catch {
      // not a results file
    }
  }
  return undefined;
}

/**
 * What each function's `<evaluator>.<score>` columns are called in the merged lines: the same unless two
 * functions both produce one, then prefixed with the later function's name.
 */
function columnNames(results: FunctionResult[]): Map<string, string>[] {
  const taken = new Set<string>();
  return results.map((r) => {
    const rename = (k: string) => (taken.has(k) ? `${r.fn.name}.${k}` : k);
    const names = new Map([...(r.rows?.scoreKeys ?? [])].map((k) => [k, rename(k)]));
    for (const [k, v] of Object.entries(r.metrics))
      if (typeof v === 'number' && Number.isFinite(v) && !names.has(k)) names.set(k, rename(k));
    for (const k of r.rows?.scoreKeys ?? []) taken.add(names.get(k)!);
    return names;
  });
}

/** The functions' metrics, finite numbers only, under their merged names. */
function mergedMetrics(results: FunctionResult[]): Record<string, number> {
  const names = columnNames(results);
  const metrics: Record<string, number> = {};
  results.forEach((r, i) => {
    for (const [k, v] of Object.entries(r.metrics))
      if (typeof v === 'number' && Number.isFinite(v)) metrics[names[i].get(k) ?? k] = v;
  });
  return metrics;
}

/**
 * One line record per data row, merged over the folder's functions and read from their row files side by side
 * (row i of each function is line i): `outputs.<evaluator>.<score>` columns become the line's outputs (target
 * outputs and inputs stay inputs), the line fails when its target or an evaluator failed, and every function
 * failure fails every line.
 */
async function* mergedLines(results: FunctionResult[], dataRows: number): AsyncGenerator<LineRecord> {
  const names = columnNames(results);
  const lineErrors = new Map<number, { errors: string[]; tracebacks: string[] }>();
  for (const r of results)
    for (const e of r.lineErrors) {
      let l = lineErrors.get(e.line);
      if (!l) lineErrors.set(e.line, (l = { errors: [], tracebacks: [] }));
      l.errors.push(e.message);
      if (e.traceback) l.tracebacks.push(e.traceback);
    }
  const failures = results.filter((r) => r.error).map((r) => r.error!);
  const readers = results.map((r) => r.rows?.read());
  const total = Math.max(dataRows, ...results.map((r) => r.rows?.count ?? 0));
  const record = async (n: number): Promise<LineRecord> => {
    const inputs: Record<string, unknown> = {};
    const outputs: Record<string, unknown> = {};
    for (let f = 0; f < results.length; f++) {
      const row = n < total ? (await readers[f]?.next())?.value : undefined;
      if (!row) continue;
      for (const [k, v] of Object.entries(row)) {
        if (k.startsWith('inputs.')) inputs[k.slice(7)] = v;
        else if (k.startsWith('outputs.') && names[f].has(k.slice(8))) outputs[names[f].get(k.slice(8))!] = v;
        else if (k.startsWith('outputs.')) inputs[`target.${k.slice(8)}`] = v;
      }
    }
    const errors = [...(lineErrors.get(n)?.errors ?? []), ...failures];
    const rec: LineRecord = {
      line_number: n,
      status: errors.length ? 'Failed' : 'Completed',
      inputs: { ...inputs, line_number: n },
      outputs,
      latency_ms: 0,
      tokens: { prompt: 0, completion: 0, total: 0 },
    };
    if (errors.length) rec.error = lineError(errors.join('; '), (lineErrors.get(n)?.tracebacks ?? []).join('\n'));
    return rec;
  };
  for (let n = 0; n < total; n++) yield await record(n);
  // Line errors the SDK reported past the rows (or at line numbers of its own): lines of their own, in order.
  const beyond = [...lineErrors.keys()].filter((n) => !(Number.isInteger(n) && n >= 0 && n < total));
  for (const n of beyond.sort((a, b) => a - b)) yield await record(n);
}

function lineError(message: string, traceback: string): PfError {
  const error: PfError = {
    message,
    messageFormat: '',
    messageParameters: {},
    referenceCode: 'CodeEvaluator',
    code: 'UserError',
    innerError: { code: 'CodeEvaluatorError', innerError: null },
  };
  if (traceback) error.debugInfo = { type: 'CodeEvaluatorError', message, stackTrace: traceback };
  return error;
}

/** Names the template gives the run: `<experiment>_eval_<YYYYmmdd_HHMMSS>`. */
export function templateRunName(experiment: string, now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${experiment}_eval_${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}_${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
}

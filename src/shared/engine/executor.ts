/**
 * The executor of one flow (dag, flex or prompty): prepared once, then `runLine` per line and `aggregate` once
 * per batch. A failed line is a result with Prompt Flow's error (§6.6), never an exception; anything that would
 * fail the whole run is a ConfigError from `createExecutor`.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Connection } from '../config/connections.js';
import type { FlexFlow, FlowInputDef, FlowNode, LoadedFlow } from '../flow/index.js';
import { INIT_SOURCES, materializeFlow, resolveFlexInit } from '../flow/index.js';
import { findRepositoryRoot, loadEnvironment } from '../config/environment.js';
import { ConfigError, type Problem } from '../errors.js';
import {
  asLoadError,
  codeCheckProblems,
  PythonWorkerPool,
  readRequirements,
  requirementsFileOf,
  type FlexEntryInfo,
  type Requirements,
} from './python-worker/index.js';
import { connectionMap, toRuntimeConnection } from './connections.js';
import { planDag, runDagAggregation, runDagLine, type DagPlan } from './dag-executor.js';
import { LineFailure, toPfError, type PfError } from './line-error.js';
import { DeadlineQueue, type Deadline } from '../llm/deadlines.js';
import { emptyUsage, LlmService, type LlmServiceOptions, type Usage } from './llm-service.js';
import { makeCallbacks } from './callbacks.js';
import { prepareHttpTarget } from './http-target.js';
import { callPrompty, preparePrompty, PromptyCache, type PreparedPrompty } from './prompty-runner.js';
import type { NodeRun, RunContext } from './scheduler.js';
import { resolveEnvironmentVariables } from './env-vars.js';
import { DEFAULT_RENDER_LIMITS, PyFloat, renderLimitsFromEnv, setRenderLimits } from './template/index.js';
import { parseValue, ValueParseError } from './values.js';
import {
  imagesFromWorker,
  ImageInputError,
  loadImageInput,
  loadNestedImages,
  toRecordValue,
  type ImageSink,
  type MessageFormat,
} from './images.js';
import type { InputImageContext } from './flow-inputs.js';
import { errorTypeOf, telemetry, type RunAttributes } from '../telemetry/hooks.js';

export interface ExecutorOptions {
  /** Connections by name (experiment.yaml, connection files, …). */
  connections?: readonly Connection[] | Record<string, Connection>;
  /** Stands in for connection names that are not defined (e.g. `connectionFromEnv()`); default: none (ConfigError). */
  fallbackConnection?: Connection;
  /** The run's id: flow code reads it as `OperationContext.get_instance().root_run_id` (default: a new id). */
  runId?: string;
  /** A shared LLM service, or options for a new one (cache, prices, client options). */
  llm?: LlmService | LlmServiceOptions;
  /** Python worker processes (default 1; each runs 16 requests at once). */
  pythonWorkers?: number;
  python?: string;
  /** Extra environment for the Python workers (merged over the flow's environment_variables). */
  env?: Record<string, string>;
  /** Flex flows: the caller's `__init__` arguments (--init, experiment.yaml), over init.json, sample.init and
   *  the flow.flex.yaml `init:` defaults. */
  init?: Record<string, unknown>;
  /** Names in `init` given as command-line text: converted by the declared init type or the Python annotation. */
  initText?: string[];
  /** Before anything runs: `check` (default) parses the flow's Python files and checks the modules they import
   *  are installed (ConfigError listing every problem); `syntax` checks only that they compile; `off` neither. */
  pythonCheck?: 'check' | 'syntax' | 'off';
  /** Told every value read from the environment for init placeholders (a host masks them in logs). */
  onSecret?: (value: string) => void;
  /** Per-line time limit in ms (Prompt Flow's batch default 600 s); 0 = none. */
  lineTimeoutMs?: number;
  /** Folder relative image paths in line inputs are resolved against (the data file's). */
  dataDir?: string;
  /**
   * Where images in outputs are saved (§2.6): files under `root/subdir`, referenced by their path relative to
   * `root` (a run's folder). Without it, images are recorded as base64 dicts (a served response).
   */
  images?: { root: string; subdir?: string };
  /** Image URLs in inputs: fetched wherever they point (default), or only from public hosts (a served flow). */
  imageUrls?: 'any' | 'public';
  /**
   * Folders image paths in line inputs may name besides the data folder and the working directory: the run
   * store's runs, whose saved images `${run.outputs.x}` names.
   */
  imageRoots?: string[];
  /** What names this run's lines in telemetry (when telemetry is on). */
  telemetry?: RunAttributes;
}

/** The result of one line. */
export interface LineResult {
  lineNumber: number;
  /** `Canceled`: the run was aborted while the line ran (not recorded by batch runs). */
  status: 'Completed' | 'Failed' | 'Canceled';
  inputs: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  error?: PfError;
  latencyMs: number;
  usage: Usage;
  /** Per node: status, latency, tokens (DAG flows). */
  nodes?: Record<string, NodeRun>;
  /** What aggregation needs from this line (DAG flows with aggregation nodes). */
  aggregationInputs?: Record<string, unknown>;
}

export interface AggregationResult {
  metrics: Record<string, unknown>;
  /** The failed aggregation node and its error (§6.6), when one failed. */
  error?: { node: string; error: PfError };
  usage: Usage;
}

/**
 * The succeeded lines' values for aggregation, in line order, as columns: a million lines' values held as arrays
 * of values, not a million small objects.
 */
export interface AggregationColumns {
  /** Number of succeeded lines. */
  count: number;
  /** DAG flows: per aggregation reference (`${node.output}`), each line's value (null when absent). */
  inputs: Map<string, unknown[]>;
  /** Flex flows: each line's outputs, or a stream of them read as they are sent (nothing of the lines held). */
  outputs: Record<string, unknown>[] | AsyncIterable<Record<string, unknown>>;
}

type AggregationLines =
  | ReadonlyArray<{ outputs?: Record<string, unknown>; aggregationInputs?: Record<string, unknown> }>
  | AggregationColumns;

/** Columns of per-line values (a caller with few lines may pass them line by line). */
function columnsOf(lines: AggregationLines): AggregationColumns {
  if (!Array.isArray(lines)) return lines as AggregationColumns;
  const rows = lines as Exclude<AggregationLines, AggregationColumns>;
  const inputs = new Map<string, unknown[]>();
  rows.forEach((l, i) => {
    for (const [k, v] of Object.entries(l.aggregationInputs ?? {})) {
      let column = inputs.get(k);
      if (!column) inputs.set(k, (column = new Array<unknown>(rows.length).fill(null)));
      column[i] = v ?? null;
    }
  });
  return { count: rows.length, inputs, outputs: rows.map((l) => l.outputs ?? {}) };
}

export interface FlowExecutor {
  readonly flow: LoadedFlow;
  /** Declared flow inputs (drives default column mapping and coercion). */
  readonly inputs: Record<string, FlowInputDef>;
  readonly hasAggregation: boolean;
  runLine(
    inputs: Record<string, unknown>,
    options?: { lineNumber?: number; signal?: AbortSignal; parent?: object },
  ): Promise<LineResult>;
  /** Lines = the succeeded lines' `outputs` and `aggregationInputs`, in line order (or as columns). */
  aggregate(lines: AggregationLines): Promise<AggregationResult>;
  close(): Promise<void>;
}

/** Prepares a flow: connections, tools, templates and Python signatures are resolved now (ConfigError if not). */
export async function createExecutor(flow: LoadedFlow, options: ExecutorOptions = {}): Promise<FlowExecutor> {
  const connections = connectionMap(options.connections as Connection[] | Record<string, Connection> | undefined);
  // Templates render synchronously: their own budget is what stops one at the line timeout (see template/budget.ts).
  const timeoutMs = options.lineTimeoutMs ?? 600_000;
  setRenderLimits({
    ...renderLimitsFromEnv(process.env),
    maxMs: timeoutMs > 0 ? timeoutMs : DEFAULT_RENDER_LIMITS.maxMs,
  });
  const service = options.llm instanceof LlmService ? options.llm : new LlmService(options.llm);
  const materialized = materializeFlow(flow);
  const workingDir = materialized.workingDir;
  const prompties = new PromptyCache(connections, options.fallbackConnection);
  let pool: PythonWorkerPool | undefined;
  const getPool = () => {
    pool ??= new PythonWorkerPool({
      workingDir,
      workers: options.pythonWorkers ?? 1,
      python: options.python,
      env: { ...resolveEnvironmentVariables(flow, connections, {}, options.fallbackConnection), ...options.env },
      connections: Object.fromEntries(Object.values(connections).map((c) => [c.name, toRuntimeConnection(c)])),
      fallbackConnection: options.fallbackConnection ? toRuntimeConnection(options.fallbackConnection) : undefined,
      operationContext: { flow_id: path.basename(path.dirname(flow.file)), root_run_id: options.runId ?? randomUUID() },
      callbacks: makeCallbacks(service, prompties),
      callTimeoutMs: 0,
    });
    return pool;
  };
  const close = async () => {
    await pool?.close();
    materialized.dispose();
  };
  const format: MessageFormat =
    flow.kind === 'dag' && flow.messageFormat === 'openai-vision' ? 'openai-vision' : 'basic';
  const images: InputImageContext & { sink?: ImageSink } = {
    workingDir,
    dataDir: options.dataDir,
    format,
    ...service.fetchOptions,
    publicUrlsOnly: options.imageUrls === 'public',
    roots: options.imageRoots,
    sink: options.images ? { root: options.images.root, subdir: options.images.subdir ?? '', format } : undefined,
  };
  try {
    const requirements = flow.kind === 'prompty' ? undefined : readRequirements(requirementsFileOf(flow));
    await checkPythonCode(flow, workingDir, options.pythonCheck ?? 'check', getPool, requirements);
    const core = await prepareCore(flow, { service, connections, options, getPool, workingDir, requirements, images });
    return makeExecutor(flow, core, options, close);
  } catch (e) {
    await close();
    throw e;
  }
}

interface Core {
  inputs: Record<string, FlowInputDef>;
  hasAggregation: boolean;
  line(
    inputs: Record<string, unknown>,
    ctx: RunContext,
  ): Promise<{
    outputs: Record<string, unknown>;
    nodes?: Record<string, NodeRun>;
    aggregationInputs?: Record<string, unknown>;
  }>;
  aggregate(lines: AggregationColumns, ctx: RunContext): Promise<Record<string, unknown>>;
}

/** The Python files a flow runs first (python nodes' files, or the flex entry's module), each with who uses it. */
function pythonEntries(flow: LoadedFlow, workingDir: string, allVariants = false): Record<string, string> {
  const out: Record<string, string> = {};
  if (flow.kind === 'dag') {
    const users = new Map<string, string[]>();
    const add = (n: FlowNode, label: string) => {
      const file = n.source?.type !== 'package' && n.type === 'python' ? n.source?.resolvedPath : undefined;
      if (!file) return;
      const labels = users.get(path.resolve(file)) ?? [];
      if (!labels.includes(label)) labels.push(label);
      users.set(path.resolve(file), labels);
    };
    for (const n of flow.nodes) add(n, n.name);
    if (allVariants) {
      for (const v of Object.values(flow.nodeVariants))
        for (const [id, n] of Object.entries(v.variants)) add(n, `${v.node} (${id})`);
    }
    for (const [file, labels] of users) out[file] = `node ${labels.join(', ')}`;
  } else if (flow.kind === 'flex') {
    const base = path.join(workingDir, ...flow.entryModule.split('.'));
    const file = [`${base}.py`, path.join(base, '__init__.py')].find((f) => existsSync(f));
    if (file) out[path.resolve(file)] = `entry ${flow.entry}`;
  }
  return out;
}

/**
 * Where a file of a materialized copy (a flow with additional_includes runs from a temporary folder) comes from,
 * so messages name the user's file.
 */
function originalOf(flow: LoadedFlow, workingDir: string): (file: string) => string {
  if (workingDir === flow.workingDir || flow.kind === 'prompty') return (f) => f;
  return (file) => {
    const rel = path.relative(workingDir, file);
    if (rel.startsWith('..') || path.isAbsolute(rel)) return file;
    const [top, ...rest] = rel.split(path.sep);
    const include = [...flow.additionalIncludes].reverse().find((inc) => path.basename(inc.absolute) === top);
    return include ? path.join(include.absolute, ...rest) : path.join(flow.workingDir, rel);
  };
}

/** Syntax errors and modules that are not installed, for every file the flow's Python code reaches: one ConfigError. */
async function checkPythonCode(
  flow: LoadedFlow,
  workingDir: string,
  mode: 'check' | 'syntax' | 'off',
  getPool: () => PythonWorkerPool,
  requirements?: Requirements,
): Promise<void> {
  if (mode === 'off') return;
  const entries = pythonEntries(flow, workingDir);
  if (Object.keys(entries).length === 0) return;
  let check;
  try {
    check = await getPool().checkCode(Object.keys(entries), { root: workingDir, imports: mode === 'check' });
  } catch (e) {
    throw asLoadError(e, { subject: `the Python code of ${flow.displayFile}`, fallback: { file: flow.displayFile } });
  }
  const problems = codeCheckProblems(check, requirements, entries, originalOf(flow, workingDir));
  if (problems.length > 0) throw new ConfigError(problems);
}

/**
 * `validate`: every Python file the flow's code reaches compiles, and (with `imports`) the modules they import
 * are installed — parsed, never run; no model is called. Returns the problems (none: []).
 */
export async function checkFlowPython(
  flow: LoadedFlow,
  options: { imports?: boolean; python?: string } = {},
): Promise<Problem[]> {
  if (flow.kind === 'prompty') return [];
  // additional_includes are part of the code: checked where they are when the flow runs.
  const materialized = materializeFlow(flow);
  const workingDir = materialized.workingDir;
  // Every variant's code: a run of another variant would load it.
  const entries = pythonEntries(flow, workingDir, true);
  const pool = new PythonWorkerPool({ workingDir, python: options.python, callTimeoutMs: 60_000 });
  try {
    if (Object.keys(entries).length === 0) return [];
    const check = await pool.checkCode(Object.keys(entries), { root: workingDir, imports: options.imports !== false });
    return codeCheckProblems(check, readRequirements(requirementsFileOf(flow)), entries, originalOf(flow, workingDir));
  } finally {
    await pool.close();
    materialized.dispose();
  }
}

/**
 * `validate` for a code-only evaluator folder: its eval_*.py files and the files they reach compile, and (with
 * `imports`) the modules they import are installed, resolved as evaluate runs them (`workingDir`, `pythonPath`).
 * Parsed, never run. `subject` names the evaluator in each problem.
 */
export async function checkPythonFiles(
  files: readonly string[],
  o: {
    workingDir: string;
    pythonPath?: readonly string[];
    subject: string;
    imports?: boolean;
    python?: string;
    requirementsFile?: string;
  },
): Promise<Problem[]> {
  if (files.length === 0) return [];
  const pythonPath = [...(o.pythonPath ?? []), process.env.PYTHONPATH].filter(Boolean).join(path.delimiter);
  const pool = new PythonWorkerPool({
    workingDir: o.workingDir,
    python: o.python,
    env: pythonPath ? { PYTHONPATH: pythonPath } : undefined,
    callTimeoutMs: 60_000,
  });
  try {
    const check = await pool.checkCode([...files], { root: o.workingDir, imports: o.imports !== false });
    const subjects = Object.fromEntries(files.map((f) => [path.resolve(o.workingDir, f), o.subject]));
    return codeCheckProblems(check, o.requirementsFile ? readRequirements(o.requirementsFile) : undefined, subjects);
  } finally {
    await pool.close();
  }
}

interface CoreEnv {
  service: LlmService;
  connections: Record<string, Connection>;
  options: ExecutorOptions;
  getPool: () => PythonWorkerPool;
  workingDir: string;
  requirements?: Requirements;
  images: InputImageContext & { sink?: ImageSink };
}

async function prepareCore(flow: LoadedFlow, env: CoreEnv): Promise<Core> {
  const { service, connections, options } = env;
  if (flow.kind === 'http') return prepareHttpTarget(flow, service, { onSecret: options.onSecret });
  if (flow.kind === 'dag') {
    const plan: DagPlan = await planDag(flow, {
      service,
      connections,
      fallbackConnection: options.fallbackConnection,
      pool: env.getPool,
      flowFile: flow.displayFile,
      workingDir: env.workingDir,
      requirements: env.requirements,
      images: env.images,
    });
    return {
      inputs: flow.inputs,
      hasAggregation: plan.aggregation.length > 0,
      line: (inputs, ctx) =>
        runDagLine(plan, inputs, ctx).then((r) => ({
          outputs: r.outputs,
          nodes: r.nodeRuns,
          aggregationInputs: r.aggregationInputs,
        })),
      aggregate: async (lines, ctx) => (await runDagAggregation(plan, lines, ctx)).metrics,
    };
  }
  if (flow.kind === 'prompty') {
    const p: PreparedPrompty = preparePrompty(flow, connections, process.env, options.fallbackConnection);
    service.check(p.connection);
    return {
      inputs: flow.inputs,
      hasAggregation: false,
      line: async (inputs, ctx) => {
        const out = await callPrompty(
          service,
          p,
          await coerceDeclared(flow.inputs, inputs, ctx.lineNumber, env.images),
          ctx.usage,
          ctx.signal,
          env.images,
        );
        return {
          outputs:
            out !== null && typeof out === 'object' && !Array.isArray(out)
              ? (toRecordValue(out, env.images.sink) as Record<string, unknown>)
              : { output: out },
        };
      },
      aggregate: async () => ({}),
    };
  }
  return prepareFlex(flow, env.getPool(), options, env.images, env.requirements, Object.keys(connections));
}

async function prepareFlex(
  flow: FlexFlow,
  pool: PythonWorkerPool,
  options: ExecutorOptions,
  images: CoreEnv['images'],
  requirements?: Requirements,
  connectionNames: string[] = [],
): Promise<Core> {
  const environment = loadEnvironment(findRepositoryRoot(path.dirname(flow.file)));
  const init = resolveFlexInit(flow, options.init, (name) => environment.get(name));
  for (const secret of init.secrets) options.onSecret?.(secret);
  const initText: string[] = [];
  for (const name of options.initText ?? []) {
    if (init.origins[name] !== 'the caller' || typeof init.values[name] !== 'string') continue;
    const declared = flow.init[name]?.type;
    if (!declared || !['int', 'double', 'bool', 'string', 'list', 'object'].includes(declared)) {
      initText.push(name); // converted by the worker, by the __init__ annotation
      continue;
    }
    try {
      init.values[name] = parseValue(declared, init.values[name]);
    } catch (e) {
      if (!(e instanceof ValueParseError)) throw e;
      throw ConfigError.at(
        { file: '--init' },
        `${name}: found ${JSON.stringify(init.values[name])}, expected a value of type ${declared} (declared in ${flow.displayFile})`,
      );
    }
  }
  let info: FlexEntryInfo;
  try {
    info = await pool.flexInit(flow.entry, init.values, { workingDir: flow.workingDir, initText });
  } catch (e) {
    throw asLoadError(e, {
      subject: `entry ${flow.entry}`,
      fallback: flow.entryAt ?? { file: flow.displayFile },
      requirements,
      initHint: INIT_SOURCES,
      connectionNames,
    });
  }
  const fromSignature = Object.keys(flow.inputs).length === 0;
  const inputs: Record<string, FlowInputDef> = !fromSignature
    ? flow.inputs
    : Object.fromEntries(
        info.params.map((p) => [
          p.name,
          {
            name: p.name,
            type: p.kind === 'value' ? p.type[0] : undefined,
            hasDefault: p.hasDefault,
            default: p.default,
            isChatInput: false,
            at: { file: flow.displayFile },
          },
        ]),
      );
  return {
    inputs,
    hasAggregation: info.hasAggregate,
    line: async (raw, ctx) => {
      // Signature defaults are left to Python: sent over JSON, a default such as `1.0` would arrive as the int 1.
      const r = await pool.flexCall(
        info.key,
        await coerceDeclared(inputs, raw, ctx.lineNumber, images, !fromSignature),
        { context: ctx },
      );
      return { outputs: toRecordValue(imagesFromWorker(r.output), images.sink) as Record<string, unknown> };
    },
    aggregate: async (lines, ctx) => (await pool.flexAggregate(info.key, lines.outputs, { context: ctx })).metrics,
  };
}

/** A failed line's error kind for telemetry: Prompt Flow's innermost error code, else the exception's kind. */
function lineErrorType(error: PfError, err: unknown): string {
  let code: string | undefined = error.code;
  for (let e = error.innerError, depth = 0; e && depth < 10; e = e.innerError, depth++) code = e.code;
  return code ?? errorTypeOf(err);
}

/** Metrics as plain numbers: a metric logged as `1.0` arrives as a Python float, and every reader expects a number. */
function plainNumbers(metrics: Record<string, unknown>): Record<string, unknown> {
  for (const k in metrics) if (metrics[k] instanceof PyFloat) metrics[k] = (metrics[k] as PyFloat).value;
  return metrics;
}

/** Flex/prompty coercion: present values by declared type; absent ones are left to the callee (defaults, errors). */
async function coerceDeclared(
  defs: Record<string, FlowInputDef>,
  raw: Record<string, unknown>,
  lineNumber: number,
  images: InputImageContext,
  applyDefaults = true,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(defs)) {
    const defaulted = raw[name] === undefined && def.hasDefault && applyDefaults;
    const v = defaulted ? def.default : raw[name];
    if (v === undefined) continue;
    try {
      const baseDir = defaulted ? images.workingDir : (images.dataDir ?? images.workingDir);
      const imageOptions = {
        baseDir,
        format: images.format,
        timeoutMs: images.timeoutMs,
        fetchImpl: images.fetchImpl,
        publicUrlsOnly: images.publicUrlsOnly,
        roots: images.roots,
      };
      let parsed = def.type === 'image' ? loadImageInput(v, imageOptions) : parseValue(def.type, v, baseDir);
      if (parsed instanceof Promise) parsed = await parsed;
      // Image dicts inside list/object inputs are images (§2.6), for flex and prompty flows too.
      if ((def.type === 'list' || def.type === 'object') && parsed !== null && typeof parsed === 'object') {
        parsed = loadNestedImages(parsed, imageOptions);
        if (parsed instanceof Promise) parsed = await parsed;
      }
      out[name] = parsed;
    } catch (e) {
      if (e instanceof ValueParseError && def.type === 'image')
        throw new LineFailure(`Failed to load image for input '${name}': ${e.message}`, ['LoadMultimediaDataError']);
      if (e instanceof ImageInputError)
        throw new LineFailure(`Failed to load image for input '${name}': ${e.message}`, ['LoadMultimediaDataError']);
      if (!(e instanceof ValueParseError)) throw e;
      throw new LineFailure(
        `The value for flow input '${name}' in line ${lineNumber} of input data does not match the expected type '${def.type}'.`,
        ['ValidationError', 'InputTypeError'],
      );
    }
  }
  return out;
}

function makeExecutor(
  flow: LoadedFlow,
  core: Core,
  options: ExecutorOptions,
  close: () => Promise<void>,
): FlowExecutor {
  const timeoutMs = options.lineTimeoutMs ?? 600_000;
  const deadlines = timeoutMs > 0 ? new DeadlineQueue(timeoutMs) : undefined;
  return {
    flow,
    inputs: core.inputs,
    hasAggregation: core.hasAggregation,
    async runLine(inputs, opts = {}) {
      const lineNumber = opts.lineNumber ?? 0;
      const usage = emptyUsage();
      const started = performance.now();
      let deadline: Deadline | undefined;
      // The caller's signal (a served request) goes to the nodes as it is. The time limit does not abort the
      // line's calls, it stops waiting for them: a per-line signal would reach every fetch, and undici's
      // handling of a signal costs more CPU per call than the rest of the engine (see llm/deadlines.ts).
      const ctx: RunContext = { lineNumber, usage: [usage], signal: opts.signal };
      // Read once: the line's span (keyed by its usage record) is ended by the telemetry that started it.
      const t = telemetry;
      if (t) t.lineStart(usage, lineNumber, options.telemetry, opts.parent);
      try {
        const work = core.line(inputs, ctx);
        const r = deadlines
          ? await new Promise<Awaited<ReturnType<Core['line']>>>((resolve, reject) => {
              deadline = deadlines.start(() =>
                reject(
                  new LineFailure(`Line ${lineNumber} execution timeout for exceeding ${timeoutMs / 1000} seconds`, [
                    'LineExecutionTimeoutError',
                  ]),
                ),
              );
              work.then(resolve, reject);
            })
          : await work;
        const result: LineResult = {
          lineNumber,
          status: 'Completed',
          inputs,
          outputs: r.outputs,
          latencyMs: performance.now() - started,
          usage,
        };
        if (r.nodes) result.nodes = r.nodes;
        if (r.aggregationInputs) result.aggregationInputs = r.aggregationInputs;
        if (t) t.lineEnd(usage, 'Completed', undefined, result.latencyMs);
        return result;
      } catch (err) {
        const status = opts.signal?.aborted ? 'Canceled' : 'Failed';
        const error = toPfError(err);
        const latencyMs = performance.now() - started;
        if (t) t.lineEnd(usage, status, lineErrorType(error, err), latencyMs);
        return { lineNumber, status, inputs, error, latencyMs, usage };
      } finally {
        if (deadline) deadlines!.finish(deadline);
      }
    },
    async aggregate(lines) {
      const usage = emptyUsage();
      const metrics: Record<string, unknown> = {};
      try {
        const m = await core.aggregate(columnsOf(lines), { lineNumber: -1, usage: [usage], metrics });
        return { metrics: plainNumbers({ ...metrics, ...m }), usage };
      } catch (err) {
        const node = (err as LineFailure).node ?? 'aggregation';
        return { metrics: plainNumbers(metrics), usage, error: { node, error: toPfError(err) } };
      }
    },
    close,
  };
}

/**
 * Batch runs (promptflow-formats.md §6): data → column mapping → lines in parallel → run store, then
 * aggregation. Failed lines never fail the run (§6.6); run-level problems are ConfigErrors before any model
 * call. An interrupted run resumes: finished lines (those with a record) are not run again.
 * @module
 */
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { connectionSecrets, type Connection } from '../config/connections.js';
import { ConfigError, formatProblem } from '../errors.js';
import { applyVariant, loadFlow, parseVariantSpec, type LoadedFlow, type VariantSelection } from '../flow/index.js';
import {
  createExecutor,
  ensureVirtualEnv,
  LlmService,
  requirementsFileOf,
  resolveImagePaths,
  type ExecutorOptions,
  type AggregationColumns,
  type AggregationResult,
  type FlowExecutor,
  type LlmServiceOptions,
  type PfError,
  type PythonRequirementsMode,
} from '../engine/index.js';
import { asRepetition, ResponseCache, type CacheMode } from '../llm/index.js';
import { readData, scanData } from './data.js';
import { LineSet } from './line-set.js';
import type { OutputsIndex, OutputsReader } from './outputs-index.js';
import { LineQueue, pendingLines, type LineSource, type PendingLine, type PendingOptions } from './pending-lines.js';
import { inSeededOrder } from './line-order.js';
import { CompiledMapping, effectiveMapping, type ColumnMapping } from './mapping.js';
import type { ProgressReporter, ProgressState } from './progress.js';
import type { SlotPool } from './pool.js';
import { freeRunId, readableRunId, runStamp } from './run-id.js';
import {
  lineRecordOf as toRecord,
  RunStore,
  type EarlyStopRecord,
  type LineRecord,
  type RunRecord,
  type RunStatus,
  type RunWriter,
} from './store.js';

/** What the runner needs of an executor. */
export interface LineExecutor extends Pick<
  FlowExecutor,
  'inputs' | 'hasAggregation' | 'runLine' | 'aggregate' | 'close'
> {
  /**
   * Set when the aggregation can be computed line by line (a built-in evaluator's mean): each succeeded line's
   * outputs are added in line order as they are read from the store, and nothing of the lines is gathered
   * (`aggregate` is then not called).
   */
  readonly runningAggregation?: () => RunningAggregation;
}

/** An aggregation fed one succeeded line at a time, in line order; it keeps what it needs, not the lines. */
export interface RunningAggregation {
  add(outputs: Record<string, unknown>): void;
  finish(): AggregationResult;
}

/**
 * What runs the lines when it is not a flow (a built-in evaluator): the same runner gives it the same
 * concurrency, resume, progress, failure records and metrics.json.
 */
export interface BatchExecutor extends LineExecutor {
  /** What run.json names as the flow (e.g. `builtin:exact_match`). */
  readonly describes: RunRecord['flow'];
}

/**
 * Early stopping of a run (eval/early-stop-run.ts): told every finished line, it says when the run has seen
 * enough. Lines then run in the seed's order (runs/line-order.ts), and once `decided()` no new line starts; the
 * lines in flight finish and are recorded.
 */
export interface LineStopper {
  readonly seed: number;
  /**
   * Sees the lines in the seed's order as they are handed out, before any is run: numbers their places and
   * attaches what scoring them needs beyond their rows. Lines an earlier session recorded (resume) come in their
   * places too: the stopper takes them in, with their records from `recorded`, and does not hand them on.
   */
  prepare(
    lines: AsyncIterable<PendingLine[]>,
    recorded?: (lineNumber: number) => LineRecord | undefined,
  ): AsyncGenerator<PendingLine[]>;
  /**
   * A finished line's record and the line as `prepare` handed it out (with its data row). A promise when scoring
   * the line takes a flow run (an evaluation flow's per-line part): the worker waits for it, after recording the
   * line, before it starts another.
   */
  observe(record: LineRecord, line: PendingLine): void | Promise<void>;
  decided(): boolean;
  /** run.json's early_stop when the run ends. */
  summary(stopped: boolean, lines: number, total: number): EarlyStopRecord;
}

export interface RunBatchOptions {
  /** Early stopping: run the lines in a seeded order and stop starting lines once this says so. */
  stopper?: LineStopper;
  /** Rewrites a line's record before the store keeps it (PII redaction of the run store, when configured). */
  redactRecord?: (record: LineRecord) => Promise<LineRecord>;
  /**
   * The caller has already named this run elsewhere (bulk-run's runs file), so a run that fails before its first
   * line still gets a run.json saying why. Otherwise an input error found before any line ran writes nothing.
   */
  announced?: boolean;
  /** Flow path (folder, flow.dag.yaml, flow.flex.yaml or .prompty) or a loaded flow. Not needed with `resume`. */
  flow?: string | LoadedFlow;
  /** Lines run by this instead of a flow (then `flow` and `variant` are not used). Closed when the run ends. */
  executor?: BatchExecutor;
  /** Wraps the flow's executor (an LLM judge's prompty gets the mean of its scores as its aggregation). */
  adapt?: (executor: FlowExecutor) => LineExecutor;
  /** Variant: node → variant id, or `${node.variant_id}`. */
  variant?: VariantSelection | string;
  /** Data file(s) or folder(s), concatenated in order. Not needed with `resume`. */
  data?: string | string[];
  columnMapping?: ColumnMapping;
  /** Id of a run in the same store, for `${run.outputs.x}` / `${run.inputs.x}`. */
  referencedRun?: string;
  /** The Azure ML data asset version `data` was downloaded from, recorded in run.json (lineage). */
  dataAsset?: { asset: string; dataUri: string; hash?: string };
  /** Default: the plan's readable scheme (runs/run-id.ts), free in the store. */
  runId?: string;
  /** Folder holding `runs/` (default `.llmops`). */
  storeRoot?: string;
  /** Lines at once (default 8). */
  concurrency?: number;
  connections?: readonly Connection[] | Record<string, Connection>;
  fallbackConnection?: Connection;
  /** A shared LLM service, or its options. */
  llm?: LlmService | LlmServiceOptions;
  /** Response cache mode (default off); stored under `<storeRoot>/cache`. Ignored when `llm` is an LlmService. */
  cacheMode?: CacheMode;
  /** Resume this run id: its run.json gives flow, variant, data, mapping; only unfinished lines run. */
  resume?: string;
  progress?: ProgressReporter;
  /** Abort the run: lines in flight are dropped (not recorded), status Canceled; resume later. */
  signal?: AbortSignal;
  lineTimeoutMs?: number;
  pythonWorkers?: number;
  /** Flex `__init__` arguments of the caller (over init.json and the flow.flex.yaml defaults). */
  init?: Record<string, unknown>;
  /** Names in `init` given as command-line text (converted by declared type or annotation). */
  initText?: string[];
  /** `check` (default): before any line, the flow's Python compiles and its imports are installed; `install`:
   *  its requirements.txt is installed into a virtual environment under `<storeRoot>/venvs` first; `off`. */
  pythonRequirements?: PythonRequirementsMode;
  /** Python executable (default: LLMOPS_PYTHON, else python3). */
  python?: string;
  /** Told what happens while preparing (e.g. a virtual environment being created). */
  log?: (message: string) => void;
  /** Told every secret the run reads from the environment beyond its connections (to mask in logs). */
  onSecret?: (value: string) => void;
  /** Display label of the variant (default: derived from the selection). */
  variantId?: string;
  /** A line pool shared with other runs: each line takes a slot while it runs (concurrency across runs). */
  pool?: SlotPool;
  /**
   * Run only the lines at these positions of the data, [start, end): one shard's piece of the run. Lines already
   * recorded stay; the run is Completed (and aggregated) once every line of the data is recorded, else Partial.
   */
  lineRange?: { start: number; end: number };
  /** The shard this session runs, recorded in run.json. */
  shard?: { index: number; count: number };
  /**
   * `repeat: K`: run every data line K times, as lines d·K … d·K + K − 1. Default: the resumed run's, else the
   * referenced run's (an evaluation scores each repetition), else 1.
   */
  repeat?: number;
}

export interface RunSummary {
  runId: string;
  /** The run folder. */
  dir: string;
  status: RunStatus;
  counts: { total: number; completed: number; failed: number };
  /** Lines finished in an earlier session (resume). */
  skipped: number;
  metrics: Record<string, unknown>;
  tokens: { prompt: number; completion: number; total: number };
  costUsd?: number;
  llmCalls: number;
  durationMs: number;
  /** The error.json message when lines or aggregation failed. */
  error?: string;
}

interface Plan {
  /** What run.json names as the flow. */
  subject: RunRecord['flow'];
  /** The flow to run; undefined when the caller gave an executor. */
  flow?: LoadedFlow;
  selection: VariantSelection;
  variantId: string;
  data: string[];
  mapping: ColumnMapping;
  referencedRun?: string;
  dataAsset?: RunBatchOptions['dataAsset'];
  runId: string;
  concurrency: number;
  previous?: RunRecord;
  /** Times each data line runs (`repeat: K`); 1 = once. */
  repeat: number;
}

/** Runs (or resumes) a batch run and returns its summary. ConfigError (exit 2) for run-level problems. */
export async function runBatch(given: RunBatchOptions): Promise<RunSummary> {
  const store = new RunStore(given.storeRoot ?? '.llmops');
  // Keys never reach the store's files, whatever quotes them (an exception message, an output).
  const connections = given.connections ? Object.values(given.connections) : [];
  store.maskSecrets(
    connectionSecrets(given.fallbackConnection ? [...connections, given.fallbackConnection] : connections),
  );
  const options: RunBatchOptions = {
    ...given,
    onSecret: (value) => {
      store.maskSecrets([value]);
      given.onSecret?.(value);
    },
  };
  const plan = planRun(options, store);
  const started = performance.now();
  const llm =
    options.llm instanceof LlmService
      ? options.llm
      : new LlmService({
          ...options.llm,
          cache:
            options.cacheMode && options.cacheMode !== 'off'
              ? new ResponseCache({ root: store.cacheDir, mode: options.cacheMode })
              : (options.llm as LlmServiceOptions | undefined)?.cache,
        });
  let executor: LineExecutor | undefined = options.executor;
  try {
    if (!plan.flow) return await execute(plan, executor!, store, options, started);
    const mode = options.pythonRequirements ?? 'check';
    const python =
      mode === 'install' ? await pythonForRequirements(plan.flow, store, options.python, options.log) : options.python;
    const exOptions: ExecutorOptions = {
      connections: options.connections,
      fallbackConnection: options.fallbackConnection,
      runId: plan.runId,
      llm,
      lineTimeoutMs: options.lineTimeoutMs,
      pythonWorkers: options.pythonWorkers,
      init: options.init,
      initText: options.initText,
      python,
      pythonCheck: mode === 'off' ? 'syntax' : 'check',
      onSecret: options.onSecret,
      dataDir: plan.data.length === 1 ? resolve(plan.data[0], '..') : undefined,
      images: { root: store.dir(plan.runId), subdir: 'images' },
      imageRoots: [store.runsDir],
      telemetry: {
        runId: plan.runId,
        variant: plan.variantId,
        dataset: plan.dataAsset?.asset ?? plan.data.map((d) => basename(d)).join(','),
        flow: plan.subject.name,
      },
    };
    const created = await createExecutor(plan.flow, exOptions);
    executor = options.adapt ? options.adapt(created) : created;
    return await execute(plan, executor, store, options, started);
  } catch (e) {
    recordFailure(store, plan, e, options.announced === true);
    throw e;
  } finally {
    await executor?.close();
  }
}

/** `install`: the interpreter of the virtual environment holding the flow's requirements.txt (none: the base one). */
export async function pythonForRequirements(
  flow: LoadedFlow,
  store: RunStore,
  python: string | undefined,
  log?: (m: string) => void,
): Promise<string | undefined> {
  if (flow.kind === 'prompty') return python;
  const requirementsFile = requirementsFileOf(flow);
  if (!existsSync(requirementsFile)) {
    log?.(
      `python_requirements: install: ${flow.displayFile} has no requirements.txt; using ${python ?? 'python3'} as it is`,
    );
    return python;
  }
  return ensureVirtualEnv({ requirementsFile, root: store.venvsDir, python, log });
}

/** The run's error as run.json says it: every problem of a ConfigError, else the exception's message. */
function failureText(e: unknown): string {
  if (e instanceof ConfigError) return e.problems.map(formatProblem).join('\n');
  const err = e as Error;
  return `${err?.name ?? 'Error'}: ${err?.message ?? String(e)}`;
}

/**
 * A run that could not start or finish says so in run.json (status Failed, the error), whatever was thrown:
 * never left `Running`. Lines already recorded stay; `--resume` runs the others once the cause is fixed.
 */
function recordFailure(store: RunStore, plan: Plan, e: unknown, announced: boolean): void {
  try {
    const known = store.has(plan.runId);
    if (!known && e instanceof ConfigError && !announced) return;
    const writer = known ? store.open(plan.runId) : store.begin(newRecord(plan, 0));
    const record = writer.record;
    record.status = 'Failed';
    record.error = failureText(e);
    record.timings.ended_at = new Date().toISOString();
    writer.saveRun();
  } catch {
    // The store itself is unwritable: the original error is the one to report.
  }
}

function newRecord(plan: Plan, total: number): RunRecord {
  return {
    version: 1,
    id: plan.runId,
    status: 'Running',
    flow: plan.subject,
    variant: { id: plan.variantId, selection: plan.selection },
    data: plan.data,
    column_mapping: plan.mapping,
    referenced_run: plan.referencedRun,
    ...(plan.dataAsset
      ? { data_asset: { asset: plan.dataAsset.asset, data_uri: plan.dataAsset.dataUri, hash: plan.dataAsset.hash } }
      : {}),
    concurrency: plan.concurrency,
    ...(plan.repeat > 1 ? { repeat: plan.repeat } : {}),
    counts: { total, completed: 0, failed: 0 },
    timings: { created_at: new Date().toISOString() },
    tokens: { prompt: 0, completion: 0, total: 0 },
    llm_calls: 0,
  };
}

/** Times each data line runs: as asked, else as the run being resumed did, else as the referenced run did. */
function repeatOf(o: RunBatchOptions, store: RunStore, previous?: RunRecord, referencedRun?: string): number {
  const k =
    o.repeat ??
    previous?.repeat ??
    (referencedRun && store.has(referencedRun) ? store.record(referencedRun).repeat : 1) ??
    1;
  if (!Number.isInteger(k) || k < 1)
    throw ConfigError.at({ file: 'runBatch' }, `repeat must be an integer >= 1; found ${JSON.stringify(k)}`);
  return k;
}

function planRun(o: RunBatchOptions, store: RunStore): Plan {
  let previous: RunRecord | undefined;
  let flowRef = o.flow;
  let data = o.data === undefined ? [] : Array.isArray(o.data) ? o.data : [o.data];
  let mapping = o.columnMapping ?? {};
  let referencedRun = o.referencedRun;
  let variant: VariantSelection | string | undefined = o.variant;
  if (o.resume) {
    previous = store.record(o.resume);
    if (!o.executor) flowRef ??= previous.flow.path;
    if (data.length === 0) data = previous.data;
    mapping = o.columnMapping ?? previous.column_mapping;
    referencedRun ??= previous.referenced_run;
    variant ??= previous.variant.selection;
  }
  if (data.length === 0 && o.executor)
    throw ConfigError.at({ file: 'runBatch' }, 'no data given; expected --data <file>');
  if (o.executor) {
    const runId = o.resume ?? o.runId ?? defaultRunId(store, o.executor.describes.name, 'default', data, {});
    return {
      subject: o.executor.describes,
      selection: {},
      variantId: 'default',
      data: data.map((d) => resolve(d)),
      mapping,
      referencedRun,
      dataAsset: o.dataAsset,
      runId: checkedRunId(runId),
      concurrency: Math.max(1, o.concurrency ?? previous?.concurrency ?? 8),
      previous,
      repeat: repeatOf(o, store, previous, referencedRun),
    };
  }
  if (flowRef === undefined) throw ConfigError.at({ file: 'runBatch' }, 'no flow given; expected a flow path');
  if (data.length === 0) throw ConfigError.at({ file: 'runBatch' }, 'no data given; expected --data <file>');
  let flow = typeof flowRef === 'string' ? loadFlow(flowRef) : flowRef;
  let selection: VariantSelection = {};
  if (typeof variant === 'string') {
    const v = parseVariantSpec(variant, { file: '--variant' });
    selection = { [v.node]: v.variantId };
  } else if (variant) selection = variant;
  if (flow.kind === 'dag') {
    flow = applyVariant(flow, selection);
    selection = flow.selection;
  } else if (Object.keys(selection).length > 0) {
    throw ConfigError.at(
      { file: flow.displayFile },
      `a ${flow.kind} flow has no variants; found variant selection ${JSON.stringify(selection)}`,
    );
  }
  const changed =
    flow.kind === 'dag'
      ? Object.entries(selection).filter(
          ([n, v]) => flow.kind === 'dag' && flow.nodeVariants[n]?.defaultVariantId !== v,
        )
      : [];
  const variantId =
    o.variantId ??
    previous?.variant.id ??
    (changed.length === 0 ? 'default' : changed.map(([n, v]) => `${n}.${v}`).join('+'));
  const runId = o.resume ?? o.runId ?? defaultRunId(store, flow.name, variantId, data, selection);
  return {
    subject: { path: flow.file, kind: flow.kind, name: flow.name },
    flow,
    selection,
    variantId,
    data: data.map((d) => resolve(d)),
    mapping,
    referencedRun,
    dataAsset: o.dataAsset,
    runId: checkedRunId(runId),
    concurrency: Math.max(1, o.concurrency ?? previous?.concurrency ?? 8),
    previous,
    repeat: repeatOf(o, store, previous, referencedRun),
  };
}

/** The plan's scheme, with the flow for experiment and the data file for dataset; a free id in the store. */
function defaultRunId(
  store: RunStore,
  name: string,
  variantId: string,
  data: string[],
  selection: VariantSelection,
): string {
  return freeRunId(
    readableRunId(name, variantId, basename(data[0] ?? 'data').replace(/\.[^.]*$/, ''), runStamp(new Date()), [
      JSON.stringify(selection),
      ...data.map((d) => resolve(d)),
    ]),
    new Set(),
    (id) => store.exists(id),
  );
}

function checkedRunId(runId: string): string {
  if (!/^[A-Za-z0-9_.+-]{1,120}$/.test(runId))
    throw ConfigError.at(
      { file: '--name' },
      `found run id ${JSON.stringify(runId)}, expected letters, digits, _ . + - (at most 120)`,
    );
  return runId;
}

async function execute(
  plan: Plan,
  executor: LineExecutor,
  store: RunStore,
  o: RunBatchOptions,
  started: number,
): Promise<RunSummary> {
  // Sources and mapping are checked before any line runs.
  const mapping = new CompiledMapping(effectiveMapping(executor.inputs, plan.mapping));
  const scans = await Promise.all(plan.data.map((d) => scanData(d, { required: mapping.dataColumns() })));
  const dataColumns = new Set<string>();
  for (const s of scans) for (const c of s.columns) dataColumns.add(c);
  const columns: Record<string, Set<string>> = { data: dataColumns };
  let runOutputs: LineSource | undefined;
  let runInputs: LineSource | 'data' | undefined;
  let refIndex: OutputsIndex | undefined;
  let refReader: OutputsReader | undefined;
  let inputsByLine: Map<number, Record<string, unknown>> | undefined;
  // Once every line has run, what the lines looked up goes before aggregation needs memory.
  const release = () => {
    refReader?.close();
    refReader = refIndex = inputsByLine = undefined;
  };
  if (plan.referencedRun) {
    const ref = store.record(plan.referencedRun);
    // The referenced run's records stay in its outputs.jsonl: an offset index finds a line's record when the line
    // comes up, so an evaluation of a million-line run holds about 5 bytes per line, not the records.
    const index = await store.index(ref.id);
    const reader = index.reader();
    const refDir = store.dir(ref.id);
    refIndex = index;
    refReader = reader;
    runOutputs = (n) => {
      if (!refIndex?.completed(n)) return undefined;
      const outputs = refReader?.get(n)?.outputs;
      // Images the referenced run saved are named relative to its folder.
      return outputs ? (resolveImagePaths(outputs, refDir) as Record<string, unknown>) : undefined;
    };
    columns['run.outputs'] = outputColumns(index, reader);
    const sameData = ref.data.length === plan.data.length && ref.data.every((d, i) => resolve(d) === plan.data[i]);
    if (mapping.uses('run.inputs') && sameData) {
      // The usual evaluation: the referenced run read this same data, so its inputs of a line are this line's row.
      runInputs = 'data';
      columns['run.inputs'] = dataColumns;
    } else if (mapping.uses('run.inputs')) {
      // Other data: the referenced run's rows by line number (held: only when the data differ).
      const byLine = new Map<number, Record<string, unknown>>();
      inputsByLine = byLine;
      const inCols = new Set<string>();
      let i = 0;
      for (const d of ref.data)
        for await (const row of readData(d)) {
          byLine.set(typeof row.line_number === 'number' ? row.line_number : i, row);
          for (const k in row) inCols.add(k);
          i++;
        }
      runInputs = (n) => inputsByLine?.get(n);
      columns['run.inputs'] = inCols;
    }
  } else if (mapping.uses('run.outputs') || mapping.uses('run.inputs')) {
    columns['run.outputs'] = new Set();
  }
  mapping.check(columns, plan.data.join(', '));

  const totalRows = scans.reduce((n, s) => n + s.rows, 0) * plan.repeat;
  // Aligned lines only (§6.3): a line the referenced run did not complete is not run.
  const total = refIndex
    ? scans.some((s) => s.lineNumbers)
      ? Math.min(totalRows, refIndex.completedCount())
      : refIndex.completedCount(totalRows)
    : totalRows;
  const writer = plan.previous ? store.open(plan.runId) : store.begin(newRecord(plan, total));
  delete writer.record.error;
  try {
    return await executeLines(plan, executor, store, o, started, writer, total, {
      mapping,
      runOutputs,
      runInputs,
      release,
    });
  } finally {
    release();
    await writer.close();
  }
}

/**
 * The output names of a referenced run, from its first completed records: every line of a run has its flow's
 * outputs, so a sample names them without reading a million records.
 */
function outputColumns(index: OutputsIndex, reader: OutputsReader, sample = 1000): Set<string> {
  const names = new Set<string>();
  let seen = 0;
  for (const n of index.numbers()) {
    if (!index.completed(n)) continue;
    for (const k in reader.get(n)?.outputs ?? {}) names.add(k);
    if (++seen >= sample) break;
  }
  return names;
}

interface LineSources {
  mapping: CompiledMapping;
  runOutputs?: LineSource;
  runInputs?: LineSource | 'data';
  /** Called when every line has run: drops what the lines looked up (a referenced run's index). */
  release(): void;
}

async function executeLines(
  plan: Plan,
  executor: LineExecutor,
  store: RunStore,
  o: RunBatchOptions,
  started: number,
  writer: RunWriter,
  total: number,
  sources: LineSources,
): Promise<RunSummary> {
  const record = writer.record;
  const { mapping, runOutputs, runInputs } = sources;
  // Resume: what is already recorded is final.
  const finished = new LineSet();
  const counts = { total, completed: 0, failed: 0 };
  const tokens = { prompt: 0, completion: 0, total: 0 };
  let cost: number | undefined;
  let llmCalls = 0;
  const errors: Array<{ line_number: number; error: PfError }> = [];
  const account = (r: LineRecord) => {
    if (r.status === 'Completed') counts.completed++;
    else {
      counts.failed++;
      if (errors.length < 100 && r.error) errors.push({ line_number: r.line_number, error: r.error });
    }
    tokens.prompt += r.tokens.prompt;
    tokens.completion += r.tokens.completion;
    tokens.total += r.tokens.total;
    if (r.cost_usd !== undefined) cost = (cost ?? 0) + r.cost_usd;
  };
  const stopper = o.stopper;
  if (plan.previous) {
    for await (const r of store.lines(record.id)) {
      if (finished.has(r.line_number)) continue;
      finished.add(r.line_number);
      account(r);
    }
    record.resumed = (record.resumed ?? 0) + 1;
  }
  const skipped = finished.size;
  record.status = 'Running';
  record.counts = counts;
  record.timings.started_at ??= new Date().toISOString();
  record.concurrency = plan.concurrency;
  if (stopper) record.order = { seed: stopper.seed };
  const piece = o.shard && o.lineRange ? { ...o.shard, ...o.lineRange } : undefined;
  if (piece && !record.shards?.some((p) => JSON.stringify(p) === JSON.stringify(piece)))
    (record.shards ??= []).push(piece);
  writer.saveRun();

  const sessionStart = performance.now();
  let sessionDone = 0;
  const state = (): ProgressState => {
    const elapsedMs = performance.now() - sessionStart;
    const rate = sessionDone / Math.max(elapsedMs / 1000, 1e-6);
    const left = counts.total - counts.completed - counts.failed;
    return {
      total: counts.total,
      done: counts.completed + counts.failed,
      failed: counts.failed,
      skipped,
      elapsedMs,
      rate,
      etaMs: sessionDone > 0 ? (left / rate) * 1000 : undefined,
    };
  };
  o.progress?.start(state());

  const signal = o.signal;
  const untilCanceled = signal ? cancelableWaits(signal) : undefined;
  const pending = (how?: PendingOptions) =>
    pendingLines(plan.data, mapping, runOutputs, runInputs, finished, o.lineRange, plan.repeat, how);
  // Early stopping: lines in the seed's order, a window at a time, each with its data row; the lines an earlier
  // session recorded come in their places too, read back from the store, so the stopper sees them in order.
  const recorded = stopper && finished.size > 0 ? (await store.index(record.id)).reader() : undefined;
  const lines = new LineQueue(
    stopper
      ? stopper.prepare(
          inSeededOrder((wanted) => pending({ wanted, rows: true, recorded: recorded !== undefined }), stopper.seed),
          recorded && ((n) => recorded.get(n)),
        )
      : pending(),
  );
  const worker = async () => {
    for (;;) {
      if (signal?.aborted) return;
      if (stopper !== undefined && stopper.decided()) return;
      const taken = lines.take();
      const next = taken instanceof Promise ? await taken : taken;
      if (next === undefined) return;
      const { lineNumber, inputs, repetition } = next;
      // The line is taken before its slot: a worker waiting for data holds no slot of the shared pool.
      const pool = o.pool;
      if (pool) {
        const slot = pool.acquire();
        if (slot !== true) await slot;
      }
      let r: Awaited<ReturnType<FlowExecutor['runLine']>> | undefined;
      try {
        // A line that waited for a slot of the shared pool while the gates got decided is not started.
        if (signal?.aborted || (stopper !== undefined && stopper.decided())) return;
        // The run's signal is not handed to the line: a signal reaching fetch costs more CPU per call than the
        // engine itself (engine/line-abort.ts). Canceling stops waiting for the lines in flight instead.
        const running = repetition
          ? asRepetition(repetition.index, () => executor.runLine(inputs, { lineNumber }))
          : executor.runLine(inputs, { lineNumber });
        r = untilCanceled ? await untilCanceled(running) : await running;
      } finally {
        pool?.release();
      }
      if (r === undefined || r.status === 'Canceled' || signal?.aborted) return;
      const made = toRecord(r);
      if (repetition) Object.assign(made, { source_line: repetition.sourceLine, repetition: repetition.index });
      const rec = o.redactRecord ? await o.redactRecord(made) : made;
      account(rec);
      const seen = stopper?.observe(rec, next);
      // Handled at once (a rejection left unhandled while the record is written would end the process); thrown
      // once the line is recorded.
      const scored = seen?.then(
        () => undefined,
        (e: unknown) => ({ e }),
      );
      llmCalls += r.usage.llmCalls;
      sessionDone++;
      if (!writer.append(rec)) await writer.drain();
      o.progress?.update(state());
      const failed = scored ? await scored : undefined;
      if (failed) throw failed.e;
    }
  };
  try {
    await Promise.all(Array.from({ length: plan.concurrency }, worker));
  } finally {
    recorded?.close();
  }
  sources.release();
  await writer.close();

  const canceled = signal?.aborted === true;
  // A shard's piece leaves the run Partial until every line of the data is recorded; the last piece aggregates.
  const partial = !canceled && o.lineRange !== undefined && counts.completed + counts.failed < counts.total;
  let metrics: Record<string, unknown> = {};
  let aggregationError: { node: string; error: PfError } | undefined;
  if (!canceled && !partial && executor.hasAggregation) {
    const agg = executor.runningAggregation
      ? await aggregateRunning(store, record.id, executor.runningAggregation())
      : await executor.aggregate(await aggregationColumns(store, record.id, plan.subject.kind === 'dag'));
    metrics = agg.metrics;
    aggregationError = agg.error;
    tokens.prompt += agg.usage.promptTokens;
    tokens.completion += agg.usage.completionTokens;
    tokens.total += agg.usage.totalTokens;
    llmCalls += agg.usage.llmCalls;
  }
  if (!canceled && !partial) writer.writeMetrics(metrics);
  let error: string | undefined;
  if (!canceled && !partial && (counts.failed > 0 || aggregationError)) {
    const first = errors[0]?.error.message ?? aggregationError?.error.message ?? '';
    error =
      counts.failed > 0
        ? `Failed to run ${counts.failed}/${counts.total} lines. First error message is: ${first}`
        : first;
    const all: unknown[] = [...errors];
    if (aggregationError) all.push({ error: aggregationError.error, aggregation_node_name: aggregationError.node });
    writer.writeError({
      message: error,
      messageFormat: '',
      messageParameters: {},
      referenceCode: 'Executor',
      code: 'UserError',
      innerError: { code: 'BulkRunError', innerError: null },
      additionalInfo: [{ type: 'BulkRunErrors', info: { errors: all } }],
    });
  }
  const durationMs = performance.now() - started;
  if (stopper && !canceled && !partial) {
    const ran = counts.completed + counts.failed;
    // Lines left unrun because the gates were decided are not failures: the run is complete as it stopped.
    record.early_stop = stopper.summary(ran < counts.total, ran, counts.total);
  }
  record.status = canceled ? 'Canceled' : partial ? 'Partial' : 'Completed';
  record.counts = counts;
  record.tokens = tokens;
  record.llm_calls = (record.llm_calls ?? 0) + llmCalls;
  if (cost !== undefined) record.cost_usd = cost;
  record.timings.ended_at = new Date().toISOString();
  record.timings.duration_ms = Math.round((record.timings.duration_ms ?? 0) + durationMs);
  if (error) record.error = error;
  writer.saveRun();
  // A run stopped early is complete with the lines it ran: the others are not left to wait for.
  o.progress?.finish(
    record.early_stop?.stopped ? { ...state(), total: counts.completed + counts.failed, etaMs: 0 } : state(),
  );
  return {
    runId: record.id,
    dir: writer.dir,
    status: record.status,
    counts,
    skipped,
    metrics,
    tokens,
    costUsd: cost,
    llmCalls: record.llm_calls,
    durationMs,
    error,
  };
}

/**
 * Waits for a line that end early (to undefined) when the run is canceled. Not Promise.race with one shared
 * cancellation promise: every race leaves a reaction on that promise holding the line's result until the run
 * ends (measured: the largest per-line cost of a run's memory). One abort listener for the run; at most one
 * waiter per worker is held.
 */
function cancelableWaits(signal: AbortSignal): <T>(p: Promise<T>) => Promise<T | undefined> {
  const waiting = new Set<() => void>();
  signal.addEventListener('abort', () => {
    for (const stop of waiting) stop();
    waiting.clear();
  });
  return <T>(p: Promise<T>) =>
    new Promise<T | undefined>((resolve, reject) => {
      if (signal.aborted) return resolve(undefined);
      const stop = () => resolve(undefined);
      waiting.add(stop);
      p.then(
        (v) => {
          waiting.delete(stop);
          resolve(v);
        },
        (e: unknown) => {
          waiting.delete(stop);
          reject(e as Error);
        },
      );
    });
}

/** A running aggregation over the run's succeeded lines, read from the store one record at a time. */
async function aggregateRunning(
  store: RunStore,
  runId: string,
  aggregation: RunningAggregation,
): Promise<AggregationResult> {
  for await (const r of store.linesInOrder(runId)) if (r.status === 'Completed') aggregation.add(r.outputs ?? {});
  return aggregation.finish();
}

/**
 * What the aggregation needs from the succeeded lines, in line order, and nothing else: for a DAG flow one array
 * per aggregation reference (repeated short texts such as grades shared), for a flex flow its outputs as a stream.
 */
async function aggregationColumns(store: RunStore, runId: string, dag: boolean): Promise<AggregationColumns> {
  if (!dag) {
    // A flex flow's `__aggregate__` gets the outputs streamed from the store to the Python worker as they are read.
    const outputs = async function* () {
      for await (const r of store.linesInOrder(runId)) if (r.status === 'Completed') yield r.outputs ?? {};
    };
    return { count: 0, inputs: new Map(), outputs: outputs() };
  }
  const columns: AggregationColumns = { count: 0, inputs: new Map(), outputs: [] };
  const shared = new Map<string, string>();
  for await (const r of store.linesInOrder(runId)) {
    if (r.status !== 'Completed') continue;
    const i = columns.count++;
    const values = r.aggregation_inputs ?? {};
    for (const k in values) {
      let column = columns.inputs.get(k);
      if (!column) columns.inputs.set(k, (column = new Array<unknown>(i).fill(null)));
      while (column.length < i) column.push(null);
      let v = values[k] ?? null;
      if (typeof v === 'string' && v.length <= 64) {
        const known = shared.get(v);
        if (known !== undefined) v = known;
        else if (shared.size < 10_000) shared.set(v, v);
      }
      column.push(v);
    }
  }
  for (const column of columns.inputs.values()) while (column.length < columns.count) column.push(null);
  return columns;
}

/**
 * The run store (DESIGN.md "Contracts"): `<store>/runs/<run-id>/` with `run.json` (rewritten atomically),
 * `outputs.jsonl` (append-only, one record per finished line, in finishing order), `metrics.json` and
 * `error.json`; beside it the response cache, the virtual environments and each experiment's hand-off files.
 * `RunStore` is the only code that knows this layout. A kill can only tear the last line of outputs.jsonl;
 * opening the run for resume drops it.
 * @module
 */
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  closeSync,
  ftruncateSync,
  fstatSync,
  readSync,
  rmSync,
  type WriteStream,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { ConfigError } from '../errors.js';
import type { LineResult, PfError } from '../engine/index.js';
import { parsePyJson, stringifyPyJson } from '../engine/python-worker/index.js';
import { writeFileAtomic } from '../files.js';
import { redact } from '../host/host.js';
import { OutputsIndex } from './outputs-index.js';

/** Partial: some of the data's lines are recorded and the rest belong to other shards of the plan. */
export type RunStatus = 'Running' | 'Completed' | 'Failed' | 'Canceled' | 'Partial';

/** `run.json`. */
export interface RunRecord {
  version: 1;
  id: string;
  status: RunStatus;
  flow: { path: string; kind: 'dag' | 'flex' | 'prompty' | 'http'; name: string };
  /** Variant chosen per `use_variants` node, and its readable id ("default", "summarize.variant_1"). */
  variant: { id: string; selection: Record<string, string> };
  data: string[];
  column_mapping: Record<string, unknown>;
  referenced_run?: string;
  /** Lineage of data read from an Azure ML data asset: the exact version (`azureml:<name>:<version>`). */
  data_asset?: { asset: string; data_uri: string; hash?: string };
  concurrency: number;
  counts: { total: number; completed: number; failed: number };
  timings: { created_at: string; started_at?: string; ended_at?: string; duration_ms?: number };
  tokens: { prompt: number; completion: number; total: number };
  /** USD, when every priced model is known. */
  cost_usd?: number;
  llm_calls: number;
  /** The shards of a plan that ran pieces of this run: shard index of count, and its lines [start, end). */
  shards?: Array<{ index: number; count: number; start: number; end: number }>;
  /** Set when outputs.jsonl's records were produced over several sessions. */
  resumed?: number;
  /** `repeat: K` (K > 1): every data line ran K times; line `n` is repetition `n % K` of data line `⌊n / K⌋`. */
  repeat?: number;
  /** Lines ran in a random order fixed by this seed (early stopping, runs/line-order.ts); a resume keeps it. */
  order?: { seed: number };
  /** Early stopping: whether the run stopped before its last line, and each early-stop gate's state then. */
  early_stop?: EarlyStopRecord;
  error?: string;
}

/** What run.json says of an early-stop run (written when it ends). */
export interface EarlyStopRecord {
  /** True when lines were left unrun because every early-stop gate was decided. */
  stopped: boolean;
  /** Lines recorded when the run ended, of the run's total. */
  lines: number;
  total: number;
  /** Error rate of each confidence sequence (anytime-valid). */
  alpha: number;
  method: string;
  gates: Array<{
    name: string;
    metric: string;
    evaluator: string;
    decision: 'pass' | 'fail' | 'open';
    /** Scored lines in the sequence, their mean and the sequence's bounds. */
    n: number;
    mean: number;
    lower: number;
    upper: number;
    min?: number;
    max?: number;
    reason: string;
  }>;
}

/** One line of `outputs.jsonl`. */
export interface LineRecord {
  line_number: number;
  /** With `repeat: K`: the data line this repetition answers, and which repetition (0..K−1) it is. */
  source_line?: number;
  repetition?: number;
  status: 'Completed' | 'Failed';
  inputs: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  error?: PfError;
  latency_ms: number;
  tokens: { prompt: number; completion: number; total: number };
  cost_usd?: number;
  /** Per node: status, latency_ms, tokens (DAG flows). */
  nodes?: Record<string, unknown>;
  /** Values the aggregation nodes need (DAG flows with aggregation). */
  aggregation_inputs?: Record<string, unknown>;
}

/** The outputs.jsonl record of a finished line. */
export function lineRecordOf(r: LineResult): LineRecord {
  const rec: LineRecord = {
    line_number: r.lineNumber,
    status: r.status === 'Completed' ? 'Completed' : 'Failed',
    inputs: r.inputs,
    latency_ms: Math.round(r.latencyMs * 1000) / 1000,
    tokens: { prompt: r.usage.promptTokens, completion: r.usage.completionTokens, total: r.usage.totalTokens },
  };
  if (r.outputs) rec.outputs = r.outputs;
  if (r.error) rec.error = r.error;
  if (r.usage.costUsd !== undefined) rec.cost_usd = r.usage.costUsd;
  if (r.nodes) rec.nodes = r.nodes;
  if (r.aggregationInputs) rec.aggregation_inputs = r.aggregationInputs;
  return rec;
}

/** File names of a run folder (Prompt Flow's local run layout keeps the same records). */
const RUN = 'run.json';
const OUTPUTS = 'outputs.jsonl';
const METRICS = 'metrics.json';
const ERROR = 'error.json';

/** A use case's identity in the store: its hand-off files live under `experiments/<name>[.<env>]/`. */
export interface ExperimentKey {
  name: string;
  envName?: string;
}

/** The shortest value the store masks (API keys are 32 characters and more). */
const MIN_SECRET_LENGTH = 6;

/**
 * The run store rooted at `root` (default `.llmops`): runs, their records and metrics, the response cache, the
 * virtual environments and the experiments' hand-off files. No other code builds a path inside it.
 */
export class RunStore {
  readonly root: string;
  private readonly secrets = new Set<string>();
  constructor(root = '.llmops') {
    this.root = resolve(root);
  }

  /**
   * Masks these secret values (connection keys, resolved init and target secrets) in every record, run.json,
   * metrics.json and error.json its writers write from now on: an exception message or an output quoting a key
   * must not carry it into the store, which pipelines upload as an artifact. Their JSON-escaped form too, as the
   * files hold them. A value shorter than MIN_SECRET_LENGTH is no real key (a test's `k`) and would mangle the data.
   */
  maskSecrets(values: Iterable<string>): void {
    for (const v of values) {
      if (v.length < MIN_SECRET_LENGTH) continue;
      this.secrets.add(v);
      const escaped = JSON.stringify(v).slice(1, -1);
      if (escaped !== v) this.secrets.add(escaped);
    }
  }

  /** The folder of a run: the engine saves a run's images under it and resolves image paths of its outputs. */
  dir(runId: string): string {
    return join(this.root, 'runs', runId);
  }
  /** The folder holding every run (image paths of a referenced run may point into any run). */
  get runsDir(): string {
    return join(this.root, 'runs');
  }
  /** The LLM response cache. */
  get cacheDir(): string {
    return join(this.root, 'cache');
  }
  /** Local copy of an Azure ML data asset's data (`key`: its content hash), read by local runs. */
  dataAssetCacheDir(key: string): string {
    return join(this.root, 'data', 'cache', key);
  }
  /** Virtual environments built from flows' requirements.txt. */
  get venvsDir(): string {
    return join(this.root, 'venvs');
  }
  /** `experiments/<name>[.<env>]/`: the files the lifecycle steps hand each other. */
  experimentDir(key: ExperimentKey): string {
    return join(this.root, 'experiments', key.envName ? `${key.name}.${key.envName}` : key.name);
  }
  /** Default runs file of an experiment (bulk-run → evaluate, report). */
  runsFile(key: ExperimentKey): string {
    return join(this.experimentDir(key), 'runs.json');
  }
  /** Default evaluations file of an experiment (evaluate → report). */
  evaluationsFile(key: ExperimentKey): string {
    return join(this.experimentDir(key), 'evaluations.json');
  }

  /** True when the run has a run.json. */
  has(runId: string): boolean {
    return existsSync(join(this.dir(runId), RUN));
  }
  /** True when the run's folder exists (a run id is taken even when it failed before saving run.json). */
  exists(runId: string): boolean {
    return existsSync(this.dir(runId));
  }
  /** run.json; ConfigError when the run is not in the store. */
  record(runId: string): RunRecord {
    const file = join(this.dir(runId), RUN);
    if (!existsSync(file)) throw ConfigError.at({ file }, `run ${JSON.stringify(runId)} not found in ${this.root}`);
    return JSON.parse(readFileSync(file, 'utf8')) as RunRecord;
  }
  /** metrics.json, or {} when the run wrote none. */
  metrics(runId: string): Record<string, unknown> {
    const file = join(this.dir(runId), METRICS);
    if (!existsSync(file)) return {};
    return parsePyJson(readFileSync(file, 'utf8')) as Record<string, unknown>;
  }

  /**
   * A new run: creates its folder and saves run.json. A run with the same id is replaced (its records,
   * metrics and error go), so a new run never appends to an old one's outputs.
   */
  begin(record: RunRecord): RunWriter {
    const dir = this.dir(record.id);
    for (const f of [OUTPUTS, METRICS, ERROR]) rmSync(join(dir, f), { force: true });
    const writer = new RunWriter(dir, record, this.secrets);
    writer.saveRun();
    return writer;
  }
  /** A run to resume or update: its run.json, and outputs.jsonl with a torn last line dropped. */
  open(runId: string): RunWriter {
    const record = this.record(runId);
    repairOutputs(join(this.dir(runId), OUTPUTS));
    return new RunWriter(this.dir(runId), record, this.secrets);
  }
  /** Deletes a run (its folder). */
  remove(runId: string): void {
    rmSync(this.dir(runId), { recursive: true, force: true });
  }

  /** The run's records in finishing order, streamed (a torn line is skipped). */
  lines(runId: string): AsyncGenerator<LineRecord> {
    return readLineRecords(join(this.dir(runId), OUTPUTS));
  }
  /**
   * The run's records in line order, one per line, streamed: an offset index of outputs.jsonl (5 bytes a line
   * for the usual run), then positioned reads in line order. Not to be used while the run is being appended to.
   */
  async *linesInOrder(runId: string): AsyncGenerator<LineRecord> {
    yield* (await this.index(runId)).inOrder();
  }
  /** The offset index of a run's records, for lookups by line number (`${run.outputs.x}` of a later run). */
  index(runId: string): Promise<OutputsIndex> {
    return OutputsIndex.build(join(this.dir(runId), OUTPUTS));
  }
}

/** @deprecated use `new RunStore(root).dir(runId)`; kept for callers outside src/. */
export function runDir(storeRoot: string, runId: string): string {
  return new RunStore(storeRoot).dir(runId);
}

/** run.json of a run; ConfigError when it is not in the store. */
export function readRunRecord(storeRoot: string, runId: string): RunRecord {
  return new RunStore(storeRoot).record(runId);
}

/** Drops a torn last line (no trailing newline) from outputs.jsonl, so appends start on a clean line. */
export function repairOutputs(file: string): void {
  if (!existsSync(file)) return;
  const fd = openSync(file, 'r+');
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return;
    const chunk = Buffer.alloc(Math.min(size, 1 << 20));
    let end = size;
    // Find the last newline; everything after it is a torn line.
    readSync(fd, chunk, 0, chunk.length, size - chunk.length);
    const lastNl = chunk.lastIndexOf(0x0a);
    if (lastNl < 0 && size <= chunk.length) end = 0;
    else if (lastNl >= 0) end = size - chunk.length + lastNl + 1;
    if (end < size) ftruncateSync(fd, end);
  } finally {
    closeSync(fd);
  }
}

/** Reads outputs.jsonl record by record (a torn or invalid line is skipped). */
export async function* readLineRecords(file: string): AsyncGenerator<LineRecord> {
  if (!existsSync(file)) return;
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of rl) {
    if (line.trim() === '') continue;
    try {
      yield parsePyJson(line) as LineRecord;
    } catch {
      // a torn line from a kill: skipped (repairOutputs removes it before appending)
    }
  }
}

/**
 * A record as Python's json writes it (NaN, Infinity). Plain JSON.stringify first: it writes a non-finite
 * number as `null`, so only a text containing `null` can hide one, and only then is the value walked (the
 * replacer-based writer cost about a tenth of the engine's per-line CPU when used on every record).
 */
function recordJson(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) return 'null';
  return text.includes('null') && mayHoldNonFinite(value, 0) ? stringifyPyJson(value) : text;
}

/** True when `v` holds a non-finite number, or might (a toJSON method, very deep nesting): the slow writer decides. */
function mayHoldNonFinite(v: unknown, depth: number): boolean {
  if (typeof v === 'number') return !Number.isFinite(v);
  if (v === null || typeof v !== 'object') return false;
  if (depth > 64 || typeof (v as { toJSON?: unknown }).toJSON === 'function') return true;
  if (Array.isArray(v)) {
    for (const x of v) if (mayHoldNonFinite(x, depth + 1)) return true;
    return false;
  }
  for (const k in v)
    if (Object.hasOwn(v, k) && mayHoldNonFinite((v as Record<string, unknown>)[k], depth + 1)) return true;
  return false;
}

/** How long appended records wait to be written together, and how many bytes force a write. */
const FLUSH_MS = 50;
const FLUSH_BYTES = 64 * 1024;

/**
 * An open run: run.json and the outputs.jsonl append stream (opened on the first append). Get one from
 * `RunStore.begin` (a new run) or `RunStore.open` (a resumed one).
 */
export class RunWriter {
  private out?: WriteStream;
  private draining?: Promise<void>;
  /** Records appended since the last write. */
  private pending = '';
  private flushTimer: NodeJS.Timeout | undefined;
  /** @internal RunStore makes writers. */
  constructor(
    /** The run's folder (where the engine saves the run's images). */
    readonly dir: string,
    readonly record: RunRecord,
    /** Replaced by *** in everything this writer writes (RunStore.maskSecrets); read live, as values arrive. */
    private readonly secrets: ReadonlySet<string> = new Set(),
  ) {
    mkdirSync(this.dir, { recursive: true });
  }
  private get outputsFile(): string {
    return join(this.dir, OUTPUTS);
  }
  private masked(text: string): string {
    return this.secrets.size > 0 ? redact(text, this.secrets) : text;
  }
  saveRun(): void {
    writeFileAtomic(join(this.dir, RUN), this.masked(JSON.stringify(this.record, null, 2)) + '\n');
  }
  /** Opens outputs.jsonl for appending (writers of a resumed run have had its torn line dropped already). */
  private openOutputs(): WriteStream {
    this.out ??= createWriteStream(this.outputsFile, { flags: 'a', highWaterMark: 1 << 20 });
    return this.out;
  }
  /**
   * Appends one record. Records are gathered for up to FLUSH_MS (or FLUSH_BYTES) and handed to the file as
   * one write: a write per record cost a thread-pool round trip per line (measured: the largest engine cost
   * after fetch at one line in flight). A kill still tears at most the last line written (repairOutputs drops
   * it) and loses at most FLUSH_MS of records, whose lines a resume runs again. Returns false when the file's
   * buffer is full (await `drain`).
   */
  append(rec: LineRecord): boolean {
    this.openOutputs();
    this.pending += recordJson(rec) + '\n';
    if (this.pending.length >= FLUSH_BYTES) return this.flush();
    this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS);
    return true;
  }
  /** Resolves when buffered records are flushed. */
  drain(): Promise<void> {
    this.flush();
    if (!this.out?.writableNeedDrain) return Promise.resolve();
    // One shared wait, however many lines are blocked on it.
    this.draining ??= new Promise<void>((resolve) =>
      this.out!.once('drain', () => {
        this.draining = undefined;
        resolve();
      }),
    );
    return this.draining;
  }
  /** Flushes and closes outputs.jsonl (appending again reopens it). */
  close(): Promise<void> {
    this.flush();
    const out = this.out;
    this.out = undefined;
    return out
      ? new Promise((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())))
      : Promise.resolve();
  }
  /** Hands the gathered records to the file stream; false when its buffer is full. */
  private flush(): boolean {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    if (this.pending === '' || !this.out) return !this.out?.writableNeedDrain;
    const chunk = this.masked(this.pending);
    this.pending = '';
    return this.out.write(chunk);
  }
  /** NaN and ±Infinity stay tokens, as Python's json writes them (Prompt Flow's metrics.json holds them). */
  writeMetrics(metrics: Record<string, unknown>): void {
    writeFileAtomic(join(this.dir, METRICS), this.masked(stringifyPyJson(metrics, 2)) + '\n');
  }
  writeError(error: unknown): void {
    writeFileAtomic(join(this.dir, ERROR), this.masked(JSON.stringify(error, null, 2)) + '\n');
  }
}

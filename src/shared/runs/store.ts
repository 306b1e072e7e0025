/**
 * The run store (DESIGN.md "Contracts"): `.llmops/runs/<run-id>/` with `run.json` (rewritten atomically),
 * `outputs.jsonl` (append-only, one record per finished line, in finishing order), `metrics.json` and
 * `error.json`. A kill can only tear the last line of outputs.jsonl; opening the run for resume drops it.
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
  type WriteStream,
} from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ConfigError } from '../errors.js';
import type { LineResult, PfError } from '../engine/index.js';
import { parsePyJson, stringifyPyJson } from '../engine/python-worker/index.js';
import { writeFileAtomic, writeJsonAtomic } from '../files.js';

/** Partial: some of the data's lines are recorded and the rest belong to other shards of the plan. */
export type RunStatus = 'Running' | 'Completed' | 'Failed' | 'Canceled' | 'Partial';

/** `run.json`. */
export interface RunRecord {
  version: 1;
  id: string;
  status: RunStatus;
  flow: { path: string; kind: 'dag' | 'flex' | 'prompty'; name: string };
  /** Variant chosen per `use_variants` node, and its readable id ("default", "summarize.variant_1"). */
  variant: { id: string; selection: Record<string, string> };
  data: string[];
  column_mapping: Record<string, unknown>;
  referenced_run?: string;
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
  error?: string;
}

/** One line of `outputs.jsonl`. */
export interface LineRecord {
  line_number: number;
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

export function runDir(storeRoot: string, runId: string): string {
  return join(storeRoot, 'runs', runId);
}

export function readRunRecord(storeRoot: string, runId: string): RunRecord {
  const file = join(runDir(storeRoot, runId), 'run.json');
  if (!existsSync(file)) throw ConfigError.at({ file }, `run ${JSON.stringify(runId)} not found in ${storeRoot}`);
  return JSON.parse(readFileSync(file, 'utf8')) as RunRecord;
}

/**
 * Drops a torn last line (no trailing newline, or not JSON) from outputs.jsonl, so appends start on a clean
 * line. Returns the number of bytes kept.
 */
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

/** An open run: its folder, run.json and the outputs.jsonl append stream. */
export class RunWriter {
  readonly dir: string;
  private out?: WriteStream;
  private draining?: Promise<void>;
  /** Records appended since the last write. */
  private pending = '';
  private flushTimer: NodeJS.Timeout | undefined;
  constructor(
    storeRoot: string,
    readonly record: RunRecord,
  ) {
    this.dir = runDir(storeRoot, record.id);
    mkdirSync(this.dir, { recursive: true });
  }
  get outputsFile(): string {
    return join(this.dir, 'outputs.jsonl');
  }
  saveRun(): void {
    writeJsonAtomic(join(this.dir, 'run.json'), this.record);
  }
  openOutputs(): void {
    repairOutputs(this.outputsFile);
    this.out = createWriteStream(this.outputsFile, { flags: 'a', highWaterMark: 1 << 20 });
  }
  /**
   * Appends one record. Records are gathered for up to FLUSH_MS (or FLUSH_BYTES) and handed to the file as
   * one write: a write per record cost a thread-pool round trip per line (measured: the largest engine cost
   * after fetch at one line in flight). A kill still tears at most the last line written (repairOutputs drops
   * it) and loses at most FLUSH_MS of records, whose lines a resume runs again. Returns false when the file's
   * buffer is full (await `drain`).
   */
  append(rec: LineRecord): boolean {
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
  closeOutputs(): Promise<void> {
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
    const chunk = this.pending;
    this.pending = '';
    return this.out.write(chunk);
  }
  /** NaN and ±Infinity stay tokens, as Python's json writes them (Prompt Flow's metrics.json holds them). */
  writeMetrics(metrics: Record<string, unknown>): void {
    writeFileAtomic(join(this.dir, 'metrics.json'), stringifyPyJson(metrics, 2) + '\n');
  }
  writeError(error: unknown): void {
    writeJsonAtomic(join(this.dir, 'error.json'), error);
  }
}

/**
 * The run store (DESIGN.md "Contracts"): `.llmops/runs/<run-id>/` with `run.json` (rewritten atomically),
 * `outputs.jsonl` (append-only, one record per finished line, in finishing order), `metrics.json` and
 * `error.json`. A kill can only tear the last line of outputs.jsonl; opening the run for resume drops it.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, openSync, readFileSync, renameSync, closeSync, ftruncateSync, fstatSync, readSync, writeFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ConfigError } from '../errors.js';
import type { PfError } from '../engine/index.js';
import { parsePyJson, stringifyPyJson } from '../engine/python-worker/index.js';

export type RunStatus = 'Running' | 'Completed' | 'Failed' | 'Canceled';

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

/** A short, unique, readable run id: `<flow>-<variant>-<yyyymmdd-hhmmss>-<4 hex>`. */
export function newRunId(flowName: string, variantId = 'default', now = new Date()): string {
  const clean = (s: string) => s.replace(/[^A-Za-z0-9_.]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 40) || 'flow';
  const ts = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${clean(flowName)}-${clean(variantId)}-${ts}-${randomBytes(2).toString('hex')}`;
}

export function runDir(storeRoot: string, runId: string): string {
  return join(storeRoot, 'runs', runId);
}

/** Writes JSON atomically (temp file + rename): readers never see a torn run.json. */
export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
  renameSync(tmp, file);
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

/** An open run: its folder, run.json and the outputs.jsonl append stream. */
export class RunWriter {
  readonly dir: string;
  private out?: WriteStream;
  private draining?: Promise<void>;
  constructor(storeRoot: string, readonly record: RunRecord) {
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
  /** Appends one record as one write, so a kill tears at most this line. Returns false when the buffer is full. */
  append(rec: LineRecord): boolean {
    return this.out!.write(stringifyPyJson(rec) + '\n');
  }
  /** Resolves when buffered records are flushed. */
  drain(): Promise<void> {
    // One shared wait, however many lines are blocked on it.
    this.draining ??= new Promise<void>((resolve) => this.out!.once('drain', () => {
      this.draining = undefined;
      resolve();
    }));
    return this.draining;
  }
  closeOutputs(): Promise<void> {
    const out = this.out;
    this.out = undefined;
    return out ? new Promise((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve()))) : Promise.resolve();
  }
  writeMetrics(metrics: Record<string, unknown>): void {
    writeJsonAtomic(join(this.dir, 'metrics.json'), metrics);
  }
  writeError(error: unknown): void {
    writeJsonAtomic(join(this.dir, 'error.json'), error);
  }
}

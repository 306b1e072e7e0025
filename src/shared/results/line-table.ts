/**
 * The per-line numbers the statistics need, held compactly: for each standard run, typed arrays indexed by line
 * number — a status byte, the latency, and one Float64Array per score column (NaN where a line has no score).
 * A million lines cost a few bytes per line per column, where one object per line cost kilobytes.
 * @module
 */
import type { LineResult, ScoreKind } from './model.js';

const NONE = 0;
const COMPLETED = 1;
const FAILED = 2;

const passWords = new Set(['correct', 'pass', 'passed', 'true', 'yes']);
const failWords = new Set(['incorrect', 'fail', 'failed', 'false', 'no']);

/** A line's score as a number (booleans and pass/fail words as 1/0), or undefined when it is not a score. */
export function scoreValue(value: unknown): number | undefined {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string') {
    const w = value.trim().toLowerCase();
    if (passWords.has(w)) return 1;
    if (failWords.has(w)) return 0;
    if (w !== '' && Number.isFinite(Number(w))) return Number(w);
  }
  return undefined;
}

/**
 * What a score column holds, counted as values arrive, so its kind is known without keeping the values:
 * all 0/1 → boolean; all whole numbers within 1..5 → likert; other numbers → continuous; undefined when fewer
 * than half the values are scores.
 */
export class ColumnKind {
  private values = 0;
  private numbers = 0;
  private binary = true;
  private likert = true;
  add(value: number | undefined): void {
    this.values += 1;
    if (value === undefined) return;
    this.numbers += 1;
    if (value !== 0 && value !== 1) this.binary = false;
    if (!(Number.isInteger(value) && value >= 1 && value <= 5)) this.likert = false;
  }
  get kind(): ScoreKind | undefined {
    if (this.numbers === 0 || this.numbers * 2 < this.values) return undefined;
    if (this.binary) return 'boolean';
    return this.likert ? 'likert' : 'continuous';
  }
}

function grown<T extends Float64Array | Uint8Array>(array: T, size: number, fill?: number): T {
  if (size <= array.length) return array;
  const bigger = new (array.constructor as new (n: number) => T)(Math.max(size, array.length * 2, 16));
  if (fill !== undefined) bigger.fill(fill, array.length);
  bigger.set(array);
  return bigger;
}

/** One standard run's lines: status, latency and scores by line number. */
export class RunLines {
  /** Highest line number seen + 1. */
  size = 0;
  private status: Uint8Array;
  private latency: Float64Array;
  private readonly columns = new Map<string, Float64Array>();
  constructor(
    readonly runId: string,
    readonly variantId: string,
    readonly dataset: string,
    capacity = 0,
  ) {
    this.status = new Uint8Array(capacity);
    this.latency = new Float64Array(capacity).fill(NaN);
  }

  setLine(lineNumber: number, failed: boolean, latencyMs: number): void {
    if (!(Number.isInteger(lineNumber) && lineNumber >= 0)) return;
    this.status = grown(this.status, lineNumber + 1);
    this.latency = grown(this.latency, lineNumber + 1, NaN);
    this.status[lineNumber] = failed ? FAILED : COMPLETED;
    this.latency[lineNumber] = latencyMs;
    if (lineNumber >= this.size) this.size = lineNumber + 1;
  }

  has(lineNumber: number): boolean {
    return lineNumber < this.size && this.status[lineNumber] !== NONE;
  }

  completed(lineNumber: number): boolean {
    return lineNumber < this.size && this.status[lineNumber] === COMPLETED;
  }

  /** Records a score of a line that exists; a value that is not a score is not stored. */
  setScore(key: string, lineNumber: number, value: number | undefined): void {
    if (value === undefined || !this.has(lineNumber)) return;
    let column = this.columns.get(key);
    if (!column || column.length <= lineNumber) {
      column = grown(column ?? new Float64Array(0), Math.max(this.size, lineNumber + 1), NaN);
      this.columns.set(key, column);
    }
    column[lineNumber] = value;
  }

  /** The score of a completed line, or undefined. */
  score(key: string, lineNumber: number): number | undefined {
    const column = this.columns.get(key);
    if (!column || lineNumber >= column.length || !this.completed(lineNumber)) return undefined;
    const v = column[lineNumber];
    return Number.isNaN(v) ? undefined : v;
  }

  /** Latencies of every line with a record, in line order. */
  latencies(): Float64Array {
    const out = new Float64Array(this.size);
    let n = 0;
    for (let i = 0; i < this.size; i++) if (this.status[i] !== NONE) out[n++] = this.latency[i];
    return out.subarray(0, n);
  }

  /** Frees columns no statistic uses (text columns, columns of no kind). */
  keepColumns(keep: (key: string) => boolean): void {
    for (const key of [...this.columns.keys()]) if (!keep(key)) this.columns.delete(key);
  }
}

export interface FromLinesOptions {
  /** Score columns to keep (default: all). */
  keys?: ReadonlySet<string>;
  /** Evaluator names, to tell which evaluator a `<evaluator>.<output>` key belongs to when names hold dots. */
  evaluators?: readonly string[];
}

/** Paired values of a candidate and a reference, in the candidate's run and line order. */
export interface PairedValues {
  candidate: number[];
  reference: number[];
}

/** Every standard run's lines, and the kind of every score column (`<evaluator>.<output>`). */
export class LineTable {
  readonly runs: RunLines[] = [];
  private readonly byId = new Map<string, RunLines>();
  /** scoreKey → evaluator and kind counters, in first-seen order. */
  private readonly columnKinds = new Map<string, { evaluator: string; kind: ColumnKind }>();

  addRun(runId: string, variantId: string, dataset: string, capacity = 0): RunLines {
    const existing = this.byId.get(runId);
    if (existing) return existing;
    const run = new RunLines(runId, variantId, dataset, capacity);
    this.runs.push(run);
    this.byId.set(runId, run);
    return run;
  }

  run(runId: string): RunLines | undefined {
    return this.byId.get(runId);
  }

  /** One evaluation output of a line that exists in the run it scored (missing lines are ignored). */
  addScore(run: RunLines, evaluator: string, output: string, lineNumber: number, raw: unknown): void {
    if (!run.has(lineNumber)) return;
    // Python evaluators often return a line's figures in one dict ({exact_match: 1, partial_match: 0}) and
    // aggregate them with log_metric: each number or boolean of it is a score column of its own, so the
    // aggregated metric finds the per-line column it averages (and gets its interval and comparisons).
    if (typeof raw === 'object' && raw !== null && !Array.isArray(raw))
      for (const [field, value] of Object.entries(raw))
        if (typeof value === 'number' || typeof value === 'boolean')
          this.addColumnScore(run, evaluator, `${output}.${field}`, lineNumber, value);
    this.addColumnScore(run, evaluator, output, lineNumber, raw);
  }

  private addColumnScore(run: RunLines, evaluator: string, output: string, lineNumber: number, raw: unknown): void {
    const key = `${evaluator}.${output}`;
    let column = this.columnKinds.get(key);
    if (!column) this.columnKinds.set(key, (column = { evaluator, kind: new ColumnKind() }));
    const value = scoreValue(raw);
    column.kind.add(value);
    run.setScore(key, lineNumber, value);
  }

  /** Score columns of an evaluator that hold scores: `<evaluator>.<output>` → kind. */
  columnsOf(evaluator: string): Map<string, ScoreKind> {
    const out = new Map<string, ScoreKind>();
    for (const [key, c] of this.columnKinds) {
      const kind = c.evaluator === evaluator ? c.kind.kind : undefined;
      if (kind) out.set(key, kind);
    }
    return out;
  }

  /** Drops the arrays of columns that hold no scores. */
  compact(): void {
    const keep = (key: string) => this.columnKinds.get(key)?.kind.kind !== undefined;
    for (const run of this.runs) run.keepColumns(keep);
  }

  /** Scores of a variant's completed lines, run by run (first run of a dataset only), each in line order. */
  values(variantId: string, key: string): number[] {
    const out: number[] = [];
    for (const run of this.runsOf(variantId).values())
      for (let i = 0; i < run.size; i++) {
        const v = run.score(key, i);
        if (v !== undefined) out.push(v);
      }
    return out;
  }

  /**
   * Pairs a variant's scores with a reference variant's (of this table or a baseline's) by dataset and line
   * number: the same line of the same dataset, both completed and scored.
   */
  paired(variantId: string, key: string, reference: LineTable, referenceVariant: string, referenceKey = key) {
    const refRuns = reference.runsOf(referenceVariant);
    const out: PairedValues = { candidate: [], reference: [] };
    for (const [dataset, run] of this.runsOf(variantId)) {
      const ref = refRuns.get(dataset);
      if (!ref) continue;
      for (let i = 0; i < run.size; i++) {
        const c = run.score(key, i);
        if (c === undefined) continue;
        const r = ref.score(referenceKey, i);
        if (r === undefined) continue;
        out.candidate.push(c);
        out.reference.push(r);
      }
    }
    return out;
  }

  /** A variant's runs by dataset; a dataset run twice counts once (its first run), as line ids must be unique. */
  runsOf(variantId: string): Map<string, RunLines> {
    const out = new Map<string, RunLines>();
    for (const run of this.runs) if (run.variantId === variantId && !out.has(run.dataset)) out.set(run.dataset, run);
    return out;
  }

  /**
   * A table from line objects (a results.json's lines, or tests). `keys` limits the score columns kept; runs
   * come in first-seen order.
   */
  static fromLines(lines: Iterable<LineResult>, options: FromLinesOptions = {}): LineTable {
    const table = new LineTable();
    for (const l of lines) table.addLine(l, options);
    table.compact();
    return table;
  }

  /** Adds one line object (see fromLines); call compact() after the last. */
  addLine(l: LineResult, options: FromLinesOptions = {}): void {
    const run = this.addRun(l.runId, l.variantId, l.dataset);
    run.setLine(l.lineNumber, l.error !== undefined, l.latencyMs);
    for (const key in l.scores) {
      if (options.keys && !options.keys.has(key)) continue;
      // The longest evaluator name the key starts with; else the key's first segment.
      const evaluator =
        options.evaluators?.filter((e) => key.startsWith(`${e}.`)).sort((a, b) => b.length - a.length)[0] ??
        key.slice(0, Math.max(0, key.indexOf('.')));
      this.addScore(run, evaluator, key.slice(evaluator.length + 1), l.lineNumber, l.scores[key]);
    }
  }
}

/**
 * The one data reader (promptflow-formats.md §6.3): `.jsonl`, `.json` (array), `.csv`, `.tsv` (cells as strings),
 * a folder (every file, breadth first), UTF-8 BOM stripped. Strict: invalid UTF-8, a line over the size limit,
 * JSON nested deeper than the limit, invalid JSON, a non-object record and a CSV/TSV row with more or fewer
 * fields than its header are ConfigErrors naming `file:line[:column]` — never a replacement character, a
 * silently dropped field or a crash. JSON lines and CSV stream, so memory stays flat in dataset size; a `.json`
 * file is one document and is parsed whole (use `.jsonl` for large data).
 * @module
 */
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { extname, isAbsolute, join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { CsvError, parse as parseCsv } from 'csv-parse';
import { ConfigError, type Problem } from '../errors.js';
import { parsePyJson } from '../engine/python-worker/index.js';
import { depthOverflowAt, findJsonFault, lineColumnOf, topLevelElementOffsets } from '../data/json-scan.js';
import { dataLimits, isBlank, LineSplitter, type DataLimits } from '../data/lines.js';

export type DataRow = Record<string, unknown>;
export type { DataLimits } from '../data/lines.js';

/** Rows of one read chunk and where each came from. */
interface RowBatch {
  rows: DataRow[];
  /** 1-based line of row k of the batch in its file. */
  lineOf(k: number): number | undefined;
}

/** Files of a data path: the file itself, or every file of a folder (breadth first, sorted per folder). */
export function dataFiles(path: string): string[] {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw ConfigError.at({ file: displayPath(path) }, 'no such data file or folder');
  }
  if (!st.isDirectory()) return [path];
  const out: string[] = [];
  const queue = [path];
  while (queue.length > 0) {
    const dir = queue.shift()!;
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) if (e.isFile() && !e.name.startsWith('.')) out.push(join(dir, e.name));
    for (const e of entries) if (e.isDirectory() && !e.name.startsWith('.')) queue.push(join(dir, e.name));
  }
  return out;
}

/** A data path as errors show it: relative to the working folder when inside it. */
export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

const kindOf = (v: unknown) =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'object' ? 'object' : typeof v;

function parseJsonLine(text: string, file: string, line: number): DataRow {
  let v: unknown;
  try {
    // Python's reading: NaN/Infinity tokens, and `1.0` stays a float (it prints `1.0` in templates and Python).
    v = parsePyJson(text);
  } catch (e) {
    const fault = findJsonFault(text);
    const at = fault ? { file, line, column: fault.offset + 1 } : { file, line };
    throw ConfigError.at(
      at,
      `invalid JSON: ${fault?.message ?? (e as Error).message}; expected one JSON object per line`,
    );
  }
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw ConfigError.at({ file, line }, `found a JSON ${kindOf(v)}, expected a JSON object per line`);
  return v as DataRow;
}

function depthError(file: string, line: number, column: number, limits: DataLimits): ConfigError {
  return ConfigError.at(
    { file, line, column },
    `JSON nested deeper than ${limits.maxDepth} levels (the limit, LLMOPS_DATA_MAX_DEPTH); expected flatter records`,
  );
}

/** Rows per batch for the formats read through a parser (JSON array, CSV). */
const PARSED_BATCH = 256;
const READ_CHUNK = 256 * 1024;

/**
 * The rows of one data file, in order, a read chunk at a time. The batch runner reads through this: a promise
 * per row was a visible share of the engine's per-line CPU; a batch costs one.
 */
async function* fileBatches(file: string, limits: DataLimits): AsyncGenerator<RowBatch> {
  const display = displayPath(file);
  const ext = extname(file).toLowerCase();
  if (ext === '.csv' || ext === '.tsv') return yield* csvBatches(file, display, ext, limits);
  if (ext === '.json') return yield* jsonDocumentBatches(file, display, limits);
  let rows: DataRow[] = [];
  let lines: number[] = [];
  const splitter = new LineSplitter(display, limits, (bytes, start, end, line) => {
    if (isBlank(bytes, start, end)) return;
    const over = depthOverflowAt(bytes, start, end, limits.maxDepth);
    if (over !== -1) throw depthError(display, line, bytes.toString('utf8', start, over).length + 1, limits);
    rows.push(parseJsonLine(bytes.toString('utf8', start, end), display, line));
    lines.push(line);
  });
  const take = (): RowBatch => {
    const batchLines = lines;
    const batch = { rows, lineOf: (k: number) => batchLines[k] };
    rows = [];
    lines = [];
    return batch;
  };
  for await (const chunk of createReadStream(file, { highWaterMark: READ_CHUNK })) {
    splitter.push(chunk as Buffer);
    if (rows.length > 0) yield take();
  }
  splitter.end();
  if (rows.length > 0) yield take();
}

/** CSV/TSV through csv-parse, its input checked line by line first (UTF-8, length) by the same splitter. */
async function* csvBatches(file: string, display: string, ext: string, limits: DataLimits): AsyncGenerator<RowBatch> {
  const splitter = new LineSplitter(display, limits, () => undefined);
  async function* checked(): AsyncGenerator<Buffer> {
    for await (const chunk of createReadStream(file, { highWaterMark: READ_CHUNK })) {
      splitter.push(chunk as Buffer);
      yield chunk as Buffer;
    }
    splitter.end();
  }
  const input = Readable.from(checked());
  // Strict column count both ways: pandas refuses extra fields, and a missing one would become an empty value.
  // A repeated header name would make one column overwrite the other in every row: refuse it.
  const columns = (header: string[]) => {
    const first = new Map<string, number>();
    header.forEach((name, i) => {
      const seen = first.get(name);
      if (seen !== undefined)
        throw ConfigError.at(
          { file: display, line: 1 },
          `column "${name}" appears twice in the header (fields ${seen + 1} and ${i + 1}); expected unique column names`,
        );
      first.set(name, i);
    });
    return header;
  };
  const parser = parseCsv({
    bom: true,
    columns,
    delimiter: ext === '.tsv' ? '\t' : ',',
    skip_empty_lines: true,
    info: true,
    max_record_size: limits.maxLineBytes,
  });
  input.on('error', (e) => parser.destroy(e));
  input.pipe(parser);
  let rows: DataRow[] = [];
  let lines: number[] = [];
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: DataRow; info: { lines: number } }>) {
      rows.push(record);
      lines.push(info.lines);
      if (rows.length >= PARSED_BATCH) {
        const l = lines;
        yield { rows, lineOf: (k) => l[k] };
        rows = [];
        lines = [];
      }
    }
  } catch (e) {
    throw csvProblem(e, display);
  } finally {
    input.destroy();
  }
  if (rows.length > 0) yield { rows, lineOf: (k) => lines[k] };
}

function csvProblem(e: unknown, file: string): unknown {
  const err = e as {
    code?: string;
    lines?: number;
    record?: unknown[];
    columns?: { name: string }[];
    message?: string;
  };
  if (!(e instanceof CsvError)) return e;
  const at = { file, line: err.lines };
  if (err.code === 'CSV_RECORD_INCONSISTENT_COLUMNS' || err.code === 'CSV_RECORD_DONT_MATCH_COLUMNS_LENGTH') {
    const names = (err.columns ?? []).map((c) => c.name);
    return ConfigError.at(
      at,
      `found ${err.record?.length ?? '?'} fields, expected ${names.length} (the header's: ${names.join(', ')}); quote a field that holds the delimiter`,
    );
  }
  if (err.code === 'CSV_MAX_RECORD_SIZE' || err.code === 'MAX_RECORD_SIZE')
    return ConfigError.at(at, 'a field is longer than the line size limit (LLMOPS_DATA_MAX_LINE_BYTES)');
  return ConfigError.at(at, `invalid CSV: ${String(err.message).replace(/ at line \d+$| on line \d+$/, '')}`);
}

/** A `.json` file: one document (an array of records, or one record), checked for UTF-8, line length and depth. */
async function* jsonDocumentBatches(file: string, display: string, limits: DataLimits): AsyncGenerator<RowBatch> {
  const chunks: Buffer[] = [];
  const splitter = new LineSplitter(display, limits, () => undefined);
  for await (const chunk of createReadStream(file, { highWaterMark: READ_CHUNK })) {
    splitter.push(chunk as Buffer);
    chunks.push(chunk as Buffer);
  }
  splitter.end();
  const bytes = Buffer.concat(chunks);
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  // The array around the records is one level more than a JSON line's record.
  const over = depthOverflowAt(bytes, bom, bytes.length, limits.maxDepth + 1);
  const text = bytes.toString('utf8', bom);
  if (over !== -1) {
    const at = lineColumnOf(text, bytes.toString('utf8', bom, over).length);
    throw depthError(display, at.line, at.column, limits);
  }
  if (text.trim() === '') return;
  let v: unknown;
  try {
    v = text.includes('NaN') || text.includes('Infinity') ? parsePyJson(text) : JSON.parse(text);
  } catch (e) {
    const fault = findJsonFault(text);
    const at = fault ? { file: display, ...lineColumnOf(text, fault.offset) } : { file: display };
    throw ConfigError.at(at, `invalid JSON: ${fault?.message ?? (e as Error).message}; expected an array of records`);
  }
  const rows = Array.isArray(v) ? v : [v];
  let offsets: number[] | undefined;
  const lineOf = (i: number) => {
    if (!Array.isArray(v)) return lineColumnOf(text, text.length - text.trimStart().length).line;
    offsets ??= topLevelElementOffsets(text);
    return offsets[i] === undefined ? undefined : lineColumnOf(text, offsets[i]).line;
  };
  const bad = rows.findIndex((r) => !r || typeof r !== 'object' || Array.isArray(r));
  if (bad !== -1)
    throw ConfigError.at(
      { file: display, line: lineOf(bad) },
      `record ${bad + 1} is a JSON ${kindOf(rows[bad])}, expected an object per record`,
    );
  for (let i = 0; i < rows.length; i += PARSED_BATCH) {
    const base = i;
    yield { rows: rows.slice(i, i + PARSED_BATCH) as DataRow[], lineOf: (k) => lineOf(base + k) };
  }
}

/** The rows of one data file, in order, a batch at a time. */
export async function* readDataFileBatches(file: string, limits: DataLimits = dataLimits()): AsyncGenerator<DataRow[]> {
  for await (const b of fileBatches(file, limits)) yield b.rows;
}

/** Batches of the rows of a data path (file or folder), in order. */
export async function* readDataBatches(path: string, limits: DataLimits = dataLimits()): AsyncGenerator<DataRow[]> {
  for (const f of dataFiles(path)) yield* readDataFileBatches(f, limits);
}

/** The rows of one data file, in order. */
export async function* readDataFile(file: string, limits: DataLimits = dataLimits()): AsyncGenerator<DataRow> {
  for await (const batch of readDataFileBatches(file, limits)) yield* batch;
}

/** Rows of a data path (file or folder). */
export async function* readData(path: string, limits: DataLimits = dataLimits()): AsyncGenerator<DataRow> {
  for (const f of dataFiles(path)) yield* readDataFile(f, limits);
}

export interface ScanOptions {
  /** Columns every row must have (mapped `${data.x}` columns), with the input each feeds (for the message). */
  required?: readonly { column: string; input?: string }[];
  /**
   * Also report a required column no row has. Off for runs: the column mapping check reports those with the
   * columns every source offers.
   */
  reportAbsent?: boolean;
  limits?: Partial<DataLimits>;
}

export interface DataScan {
  rows: number;
  columns: Set<string>;
  lineNumbers: boolean;
}

/**
 * One strict pass over the data, before anything runs: row count, column names, and every problem of the
 * reader; a required column missing from a row is reported at that row's `file:line` (per column, the first
 * row with the count — a million bad rows must not print a million lines).
 */
export async function scanData(path: string, options: ScanOptions = {}): Promise<DataScan> {
  const limits = dataLimits(options.limits);
  const required = options.required ?? [];
  let rows = 0;
  const columns = new Set<string>();
  const missing = new Map<string, { count: number; first: { file: string; line?: number }; input?: string }>();
  const seen = new Set<string>();
  for (const file of dataFiles(path)) {
    for await (const batch of fileBatches(file, limits)) {
      for (let k = 0; k < batch.rows.length; k++) {
        const r = batch.rows[k];
        if (rows < 1000 || rows % 1000 === 0) for (const c in r) columns.add(c);
        rows++;
        for (const { column, input } of required) {
          if (r[column] !== undefined) {
            seen.add(column);
            continue;
          }
          const m = missing.get(column);
          if (m) m.count++;
          else missing.set(column, { count: 1, first: { file: displayPath(file), line: batch.lineOf(k) }, input });
        }
      }
    }
  }
  const problems: Problem[] = [];
  for (const [column, m] of missing) {
    if (!seen.has(column) && !options.reportAbsent) continue;
    problems.push({
      ...m.first,
      message: `column "${column}"${m.input && m.input !== column ? ` (mapped to input "${m.input}")` : ''} is missing from this row${m.count > 1 ? ` and ${m.count - 1} more of ${rows} rows` : ` (1 of ${rows} rows)`}; expected it in every row (available columns: ${[...columns].join(', ') || 'none'})`,
    });
  }
  if (problems.length) throw new ConfigError(problems);
  return { rows, columns, lineNumbers: columns.has('line_number') };
}

/**
 * Dataset loading (promptflow-formats.md §6.3): `.jsonl`, `.json` (array), `.csv`, `.tsv` (cells as strings),
 * a folder (every file, breadth first), UTF-8 BOM stripped. Rows stream, so memory stays flat in dataset size.
 * @module
 */
import { createReadStream, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { parse as parseCsv } from 'csv-parse';
import { ConfigError } from '../errors.js';
import { parsePyJson } from '../engine/python-worker/index.js';

export type DataRow = Record<string, unknown>;

/** Files of a data path: the file itself, or every file of a folder (breadth first, sorted per folder). */
export function dataFiles(path: string): string[] {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw ConfigError.at({ file: path }, 'no such data file or folder');
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

function parseJsonLine(text: string, file: string, line: number): DataRow {
  let v: unknown;
  try {
    // Python's reading: NaN/Infinity tokens, and `1.0` stays a float (it prints `1.0` in templates and Python).
    v = parsePyJson(text);
  } catch (e) {
    throw ConfigError.at({ file, line }, `invalid JSON: ${(e as Error).message}; expected one JSON object per line`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw ConfigError.at({ file, line }, 'expected a JSON object per line');
  return v as DataRow;
}

/** Rows per batch for the formats read through a parser (JSON array, CSV). */
const PARSED_BATCH = 256;
/** Line breaks as readline (crlfDelay: Infinity) sees them. */
const BREAK = /\r\n|\n|\r/g;

/**
 * The rows of one data file, in order, a batch at a time (JSON lines: one read chunk's rows). The batch runner
 * reads through this: a promise per row (readline, then generators stacked on it) was a visible share of the
 * engine's per-line CPU; a batch costs one.
 */
export async function* readDataFileBatches(file: string): AsyncGenerator<DataRow[]> {
  const ext = extname(file).toLowerCase();
  if (ext === '.json' || ext === '.csv' || ext === '.tsv') {
    let batch: DataRow[] = [];
    for await (const r of parsedRows(file, ext)) {
      batch.push(r);
      if (batch.length >= PARSED_BATCH) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
    return;
  }
  let rest = '';
  let n = 0;
  const take = (text: string, final: boolean): DataRow[] => {
    const rows: DataRow[] = [];
    const add = (line: string) => {
      n++;
      if (n === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
      if (line.trim() !== '') rows.push(parseJsonLine(line, file, n));
    };
    let start = 0;
    BREAK.lastIndex = 0;
    for (let m = BREAK.exec(text); m; m = BREAK.exec(text)) {
      // A chunk ending in \r may end in the first half of a \r\n: decide with the next chunk.
      if (!final && m[0] === '\r' && m.index === text.length - 1) break;
      add(text.slice(start, m.index));
      start = m.index + m[0].length;
    }
    rest = text.slice(start);
    if (final && rest !== '') {
      add(rest);
      rest = '';
    }
    return rows;
  };
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 256 * 1024 })) {
    const rows = take(rest + (chunk as string), false);
    if (rows.length > 0) yield rows;
  }
  const rows = take(rest, true);
  if (rows.length > 0) yield rows;
}

async function* parsedRows(file: string, ext: string): AsyncGenerator<DataRow> {
  if (ext === '.json') {
    let text = readFileSync(file, 'utf8');
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw ConfigError.at({ file }, `invalid JSON: ${(e as Error).message}; expected an array of records`);
    }
    const rows = Array.isArray(v) ? v : [v];
    for (const r of rows) yield r as DataRow;
    return;
  }
  const parser = createReadStream(file).pipe(parseCsv({ bom: true, columns: true, delimiter: ext === '.tsv' ? '\t' : ',', relax_column_count: true, skip_empty_lines: true }));
  for await (const r of parser) yield r as DataRow;
}

/** Batches of the rows of a data path (file or folder), in order. */
export async function* readDataBatches(path: string): AsyncGenerator<DataRow[]> {
  for (const f of dataFiles(path)) yield* readDataFileBatches(f);
}

/** The rows of one data file, in order. */
export async function* readDataFile(file: string): AsyncGenerator<DataRow> {
  for await (const batch of readDataFileBatches(file)) yield* batch;
}

/** Rows of a data path (file or folder), with their 0-based position. */
export async function* readData(path: string): AsyncGenerator<DataRow> {
  for (const f of dataFiles(path)) yield* readDataFile(f);
}

/** One pass over the data: row count and every column name (for mapping checks and progress). */
export async function scanData(path: string): Promise<{ rows: number; columns: Set<string>; lineNumbers: boolean }> {
  let rows = 0;
  const columns = new Set<string>();
  for await (const batch of readDataBatches(path)) {
    for (const r of batch) {
      if (rows < 1000 || rows % 1000 === 0) for (const k in r) columns.add(k);
      rows++;
    }
  }
  return { rows, columns, lineNumbers: columns.has('line_number') };
}

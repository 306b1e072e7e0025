/**
 * Checks a dataset the way a run will read it: readable, every column its mappings (and the
 * flow's required inputs) use present in every row; content hash and row count.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Mappings } from '../config/types.js';
import type { Problem } from '../errors.js';
import { ConfigError } from '../errors.js';
import { readData } from '../runs/data.js';

export interface DatasetCheck {
  rows: number;
  hash: string;
  columns: string[];
}

/** Columns a mapping reads from the data row: `${data.x}` values. */
export function mappedColumns(mappings: Mappings): { input: string; column: string }[] {
  const out: { input: string; column: string }[] = [];
  for (const [input, value] of Object.entries(mappings)) {
    const m = typeof value === 'string' ? /^\$\{data\.([^{}]+)\}$/.exec(value.trim()) : null;
    if (m) out.push({ input, column: m[1] });
  }
  return out;
}

/**
 * Read every row once. Missing columns are reported per column with the first rows that lack
 * them (not one problem per row: a dataset of a million rows must not print a million lines).
 */
export async function checkDataset(file: string, displayFile: string, required: { input: string; column: string }[]): Promise<DatasetCheck> {
  const hash = await hashFile(file);
  const missing = new Map<string, number[]>();
  const missingCount = new Map<string, number>();
  const columns = new Set<string>();
  let rows = 0;
  for await (const row of readRows(file, displayFile)) {
    rows++;
    if (rows <= 1000) for (const k of Object.keys(row)) columns.add(k);
    for (const { column } of required) {
      if (row[column] === undefined) {
        missingCount.set(column, (missingCount.get(column) ?? 0) + 1);
        const firsts = missing.get(column) ?? [];
        if (firsts.length < 3) firsts.push(rows);
        missing.set(column, firsts);
      }
    }
  }
  const problems: Problem[] = [];
  if (rows === 0) problems.push({ file: displayFile, message: 'found no rows, expected at least one' });
  for (const { input, column } of required) {
    const count = missingCount.get(column);
    if (!count) continue;
    const where = missing.get(column)!.map((r) => `row ${r}`).join(', ');
    problems.push({ file: displayFile, message: `column "${column}" (mapped to input "${input}") is missing in ${count} of ${rows} rows (first: ${where}); available columns: ${[...columns].join(', ') || 'none'}` });
  }
  if (problems.length) throw new ConfigError(problems);
  return { rows, hash, columns: [...columns] };
}

/** The reader's rows, with its problems shown at the path the user wrote. */
async function* readRows(file: string, displayFile: string) {
  try {
    yield* readData(file);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(e.problems.map((p) => (p.file === file ? { ...p, file: displayFile } : p)));
    throw e;
  }
}

function hashFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (chunk) => h.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

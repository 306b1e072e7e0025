/**
 * Checks a dataset the way a run will read it (the one strict reader, runs/data.ts): every line readable,
 * every column its mappings (and the flow's required inputs) use present in every row; content hash and row
 * count. Steps check every dataset they will use with this before anything runs.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { relative } from 'node:path';
import type { Mappings } from '../config/types.js';
import { ConfigError, type Problem } from '../errors.js';
import { dataFiles, displayPath, scanData } from '../runs/data.js';

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

/** The column a dataset's lines are clustered by (experiment.yaml cluster_by): every row must have it too. */
export function clusterColumn(d: { clusterBy?: string }): { input: string; column: string }[] {
  return d.clusterBy ? [{ input: 'cluster_by', column: d.clusterBy }] : [];
}

/**
 * Columns read from each row: `${data.x}` mappings, plus same-name columns for flow inputs without a default
 * and without a mapping (promptflow-formats.md §6.4).
 */
export function requiredColumns(
  mappings: Mappings,
  flow: { inputs: Record<string, { hasDefault?: boolean }> } | undefined,
): { input: string; column: string }[] {
  const out = mappedColumns(mappings);
  for (const [name, def] of Object.entries(flow?.inputs ?? {})) {
    if (!def.hasDefault && !(name in mappings)) out.push({ input: name, column: name });
  }
  return out;
}

/**
 * Read every row once: reader problems and missing columns as `file:line` errors (per column, the first row
 * lacking it, with the count).
 */
export async function checkDataset(
  file: string,
  displayFile: string,
  required: { input: string; column: string }[],
): Promise<DatasetCheck> {
  const [scan, hash] = await Promise.all([
    renamed(scanData(file, { required, reportAbsent: true }), file, displayFile),
    hashFile(file),
  ]);
  if (scan.rows === 0) throw ConfigError.at({ file: displayFile }, 'found no rows, expected at least one');
  return { rows: scan.rows, hash, columns: [...scan.columns] };
}

/**
 * Checks every dataset of a step before the step runs anything, and reports the problems of all of them at
 * once (a bad second dataset must not be found after the first one ran).
 */
export async function checkDatasets(
  datasets: readonly { path: string; display?: string; required: { input: string; column: string }[] }[],
): Promise<void> {
  const problems: Problem[] = [];
  for (const d of datasets) {
    try {
      await renamed(scanData(d.path, { required: d.required, reportAbsent: true }), d.path, d.display ?? d.path);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      problems.push(...e.problems);
    }
  }
  if (problems.length) throw new ConfigError(problems);
}

/** The reader's problems shown at the path the user wrote. */
async function renamed<T>(work: Promise<T>, file: string, displayFile: string): Promise<T> {
  try {
    return await work;
  } catch (e) {
    const shown = displayPath(file);
    if (e instanceof ConfigError && shown !== displayFile)
      throw new ConfigError(e.problems.map((p) => (p.file === shown ? { ...p, file: displayFile } : p)));
    throw e;
  }
}

/** Content hash of a data file, or of a folder's data files in reading order (names included). */
async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256');
  const files = dataFiles(path);
  for (const file of files) {
    if (files.length > 1 || file !== path) h.update(`${relative(path, file)}\u0000`);
    await new Promise<void>((resolve, reject) => {
      createReadStream(file)
        .on('data', (chunk) => h.update(chunk))
        .on('error', reject)
        .on('end', () => resolve());
    });
  }
  return h.digest('hex');
}

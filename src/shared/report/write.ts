/**
 * Writes the report folder. Everything is rendered in memory first, then written to a
 * temporary folder beside the target and moved into place, so a failure (bad data, full
 * disk) never leaves a half-written report behind.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { renderCsv } from './csv.js';
import { evaluatorNames, safeFileName } from './format.js';
import { renderHtml, type HtmlOptions } from './html.js';
import { renderJUnit, type JUnitOptions } from './junit.js';
import { renderMarkdown, type MarkdownOptions } from './markdown.js';
import type { Results } from '../results/model.js';
import { forRendering } from './order.js';
import type { ReportFile } from './types.js';

export type ReportFormat = 'json' | 'csv' | 'html' | 'markdown' | 'junit';

export const ALL_REPORT_FORMATS: readonly ReportFormat[] = ['json', 'csv', 'html', 'markdown', 'junit'];

/** File names of the single-file formats (CSV names come from the evaluators and experiment). */
export const REPORT_FILE_NAMES = {
  json: 'results.json',
  html: 'report.html',
  markdown: 'summary.md',
  junit: 'results.junit.xml',
} as const;

export interface WriteReportsOptions {
  /** Strings replaced with `***` in every file. */
  secrets?: readonly string[];
  html?: Omit<HtmlOptions, 'secrets'>;
  markdown?: Omit<MarkdownOptions, 'secrets'>;
  junit?: Omit<JUnitOptions, 'secrets'>;
}

/** Renders the requested formats in memory; throws before anything is written when two files would share a name. */
export function renderReports(
  results: Results,
  formats: readonly ReportFormat[],
  options: WriteReportsOptions = {},
): ReportFile[] {
  const r = forRendering(results, options.secrets);
  const files: ReportFile[] = [];
  const wanted = new Set(formats);
  if (wanted.has('json')) files.push({ name: REPORT_FILE_NAMES.json, content: `${JSON.stringify(r, null, 2)}\n` });
  if (wanted.has('csv')) files.push(...renderCsv(r));
  if (wanted.has('html')) files.push({ name: REPORT_FILE_NAMES.html, content: renderHtml(r, options.html) });
  if (wanted.has('markdown'))
    files.push({ name: REPORT_FILE_NAMES.markdown, content: renderMarkdown(r, options.markdown) });
  if (wanted.has('junit')) files.push({ name: REPORT_FILE_NAMES.junit, content: renderJUnit(r, options.junit) });
  const seen = new Set<string>();
  for (const f of files) {
    const key = f.name.toLowerCase();
    if (seen.has(key)) throw nameClash(results, f.name);
    seen.add(key);
  }
  return files;
}

/** A user's naming clash: the evaluator and experiment names that give the same report file. */
function nameClash(results: Results, fileName: string): ConfigError {
  const key = fileName.toLowerCase();
  const names = [...new Set([...evaluatorNames(results), results.experiment])].filter((n) =>
    key.startsWith(`${safeFileName(n).toLowerCase()}_`),
  );
  const from = names.length ? ` (from ${names.map((n) => `"${n}"`).join(' and ')})` : '';
  return ConfigError.at(
    { file: fileName },
    `two reports would be written to ${fileName}${from}; expected the experiment name and every evaluator name to give distinct report file names (ignoring case; characters a file name cannot hold become "_"): rename one of them`,
  );
}

/**
 * Renders `formats` of `results` and writes them into `dir` (created when missing).
 * Other files already in `dir` are left alone; report files of the same name are replaced.
 * Returns the absolute paths written, in render order.
 */
export async function writeReports(
  results: Results,
  dir: string,
  formats: readonly ReportFormat[] = ALL_REPORT_FORMATS,
  options: WriteReportsOptions = {},
): Promise<string[]> {
  const files = renderReports(results, formats, options);
  const target = path.resolve(dir);
  const parent = path.dirname(target);
  await mkdir(parent, { recursive: true });
  const staging = path.join(
    parent,
    `.${safeFileName(path.basename(target))}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
  await mkdir(staging);
  try {
    for (const f of files) await writeFile(path.join(staging, f.name), f.content, 'utf8');
    if (!(await exists(target))) {
      await rename(staging, target);
    } else {
      // The folder holds other files (bulk-run outputs, older reports): move ours in one by one;
      // each rename is atomic, so a reader never sees a partly written file.
      for (const name of await readdir(staging)) await rename(path.join(staging, name), path.join(target, name));
      await rm(staging, { recursive: true, force: true });
    }
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
  return files.map((f) => path.join(target, f.name));
}

async function exists(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Writes the report folder. Every file is written into a temporary folder beside the target — the line
 * files (CSV, JSON) streamed as the lines pass, once — and moved into place, so a failure (bad data, full
 * disk) never leaves a half-written report behind.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { csvRenderers } from './csv.js';
import { evaluatorNames, safeFileName } from './format.js';
import { htmlRenderer, type HtmlOptions } from './html.js';
import { jsonRenderer } from './json.js';
import { junitRenderer, type JUnitOptions } from './junit.js';
import { markdownRenderer, type MarkdownOptions } from './markdown.js';
import type { Results, ResultsSummary } from '../results/model.js';
import type { ReportData } from '../results/report-data.js';
import { forRendering } from './order.js';
import { renderInMemory, renderToFiles } from './render-lines.js';
import type { LineRenderer, ReportFile } from './types.js';

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
  return renderInMemory(forRendering(results, options.secrets), (data) => renderersOf(data, formats, options));
}

/** The renderers of the requested formats, in file order; throws when two files would share a name. */
function renderersOf(data: ReportData, formats: readonly ReportFormat[], options: WriteReportsOptions): LineRenderer[] {
  const wanted = new Set(formats);
  const files: LineRenderer[] = [];
  if (wanted.has('json')) files.push(jsonRenderer(data, REPORT_FILE_NAMES.json));
  if (wanted.has('csv')) files.push(...csvRenderers(data));
  if (wanted.has('html')) files.push(htmlRenderer(data, REPORT_FILE_NAMES.html, options.html));
  if (wanted.has('markdown')) files.push(markdownRenderer(data, REPORT_FILE_NAMES.markdown, options.markdown));
  if (wanted.has('junit')) files.push(junitRenderer(data, REPORT_FILE_NAMES.junit, options.junit));
  const seen = new Set<string>();
  for (const f of files) {
    const key = f.name.toLowerCase();
    if (seen.has(key)) throw nameClash(data.results, f.name);
    seen.add(key);
  }
  return files;
}

/** A user's naming clash: the evaluator and experiment names that give the same report file. */
function nameClash(results: ResultsSummary, fileName: string): ConfigError {
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
 * Renders `formats` of `results` (held in memory, or report data whose lines stream from the run store) and
 * writes them into `dir` (created when missing). Other files already in `dir` are left alone; report files of
 * the same name are replaced. Returns the absolute paths written, in render order.
 */
export async function writeReports(
  results: Results | ReportData,
  dir: string,
  formats: readonly ReportFormat[] = ALL_REPORT_FORMATS,
  options: WriteReportsOptions = {},
): Promise<string[]> {
  const data = forRendering(results, options.secrets);
  const files = renderersOf(data, formats, options);
  const target = path.resolve(dir);
  const parent = path.dirname(target);
  await mkdir(parent, { recursive: true });
  const staging = path.join(
    parent,
    `.${safeFileName(path.basename(target))}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
  await mkdir(staging);
  try {
    await renderToFiles(data, files, staging);
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

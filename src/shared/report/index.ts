/**
 * Report renderers of one results model (model.ts): JSON, CSV, HTML, Markdown, JUnit.
 * @module
 */
export type * from '../results/model.js';
export type * from '../results/report-data.js';
export type { RenderOptions, ReportFile } from './types.js';
export { renderCsv } from './csv.js';
export { readResultsFile, type ResultsFile } from './read.js';
export { renderHtml, type HtmlOptions } from './html.js';
export {
  renderMarkdown,
  markdownMarker,
  STEP_SUMMARY_MAX_BYTES,
  PR_COMMENT_MAX_BYTES,
  type MarkdownOptions,
} from './markdown.js';
export { renderJUnit, type JUnitOptions } from './junit.js';
export { validateResults, isResults } from './schema.js';
export { makeRedactor, redactResults, redactReportData, REDACTED, type ValueRedactor } from './redact.js';
export {
  writeReports,
  renderReports,
  ALL_REPORT_FORMATS,
  REPORT_FILE_NAMES,
  type ReportFormat,
  type WriteReportsOptions,
} from './write.js';

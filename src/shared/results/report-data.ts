/**
 * What the report renderers read: the results summary, and the lines as a stream walked once per report
 * (never all held), with the column names the CSV and HTML headers need before the first row.
 * @module
 */
import type { LineResult, ResultsSummary } from './model.js';
import type { HistoryEntry } from '../report/history.js';

/** Keys of one standard run's lines, in first-seen order. */
export interface LineColumns {
  inputs: string[];
  outputs: string[];
  /** `<evaluator>.<output>`, evaluation by evaluation. */
  scores: string[];
}

/** The first failed lines in line order (run by run), and how many lines failed in all. */
export interface FailedLines {
  count: number;
  lines: LineResult[];
}

/** How many failed lines the report keeps for the HTML, JUnit and Markdown lists. */
export const FAILED_LINES_KEPT = 1000;

export interface ReportData {
  results: ResultsSummary;
  /** Per standard run id. */
  columns: Map<string, LineColumns>;
  failed: FailedLines;
  /**
   * Every line with its scores, run by run in `results.runs` order, each run by line number. Each call walks
   * the lines again (from memory, or from the run store).
   */
  lines(): Iterable<LineResult> | AsyncIterable<LineResult>;
  /** Earlier builds and this one, oldest first, for the trend (report/history.ts); absent: no trend. */
  history?: HistoryEntry[];
}

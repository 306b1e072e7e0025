/**
 * Shapes shared by the renderers (the results model itself is model.ts).
 * @module
 */
import type { LineResult } from '../results/model.js';

/** One rendered report file, held in memory until writeReports puts it on disk. */
export interface ReportFile {
  /** File name inside the report folder (no directories). */
  name: string;
  content: string;
}

/** Options every renderer accepts. */
export interface RenderOptions {
  /** Strings to replace with `***` wherever they appear (inputs, outputs, errors, names). */
  secrets?: readonly string[];
}

/**
 * One report file rendered from a single walk over the lines: the text before them, the text of each line
 * ('' when the file has no row for it, or only gathers), and the text after them. CSV and JSON write their
 * rows as the lines pass; HTML, JUnit and Markdown keep a bounded selection and write the page at the end.
 */
export interface LineRenderer {
  name: string;
  /** False when the file needs no walk over the lines (its `line` always returns ''). */
  walksLines?: boolean;
  start(): string;
  line(l: LineResult): string;
  end(): string;
}

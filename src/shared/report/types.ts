/**
 * Shapes shared by the renderers (the results model itself is model.ts).
 * @module
 */

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

/**
 * results.json, written as the lines pass: the summary first (indented), then one line per text line, so the
 * file stays one JSON value a reader can also walk line by line (read.ts does, for a baseline).
 * @module
 */
import type { LineResult } from '../results/model.js';
import type { ReportData } from '../results/report-data.js';
import type { LineRenderer } from './types.js';

/** The text line that opens the lines array; read.ts looks for it. */
export const LINES_OPEN = '  "lines": [';

export function jsonRenderer(data: ReportData, name: string): LineRenderer {
  let first = true;
  return {
    name,
    start() {
      // The summary with an empty lines array, the array's end cut off so the lines can follow.
      const head = JSON.stringify({ ...data.results, lines: [] }, null, 2);
      const cut = head.lastIndexOf('"lines": []');
      return `${head.slice(0, cut)}"lines": [\n`;
    },
    line(l: LineResult) {
      const text = `${first ? '' : ',\n'}    ${JSON.stringify(l)}`;
      first = false;
      return text;
    },
    end: () => (first ? '  ]\n}\n' : '\n  ]\n}\n'),
  };
}

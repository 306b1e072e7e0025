/**
 * Reads a results.json written by `writeReports` — as a baseline to compare with — without holding its lines:
 * the summary is parsed whole, each line is checked against the schema and only the score columns the
 * baseline's metrics use go into a compact line table. A results.json laid out otherwise (an older writer,
 * a hand-edited file) is parsed whole.
 * @module
 */
import { createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { ConfigError } from '../errors.js';
import { LineTable } from '../results/line-table.js';
import type { LineResult, Results, ResultsSummary } from '../results/model.js';
import { LINES_OPEN } from './json.js';
import { validateResults, validateResultsLine } from './schema.js';

/** A results file: its summary, and its lines' scores as a line table. */
export interface ResultsFile {
  results: ResultsSummary;
  table: LineTable;
}

const expected = 'expected a results.json written by llmops report';

/** Reads and checks `file`; a problem is a ConfigError naming the file (and the line, when a line is bad). */
export async function readResultsFile(file: string): Promise<ResultsFile> {
  const streamed = await readStreamed(file);
  return streamed ?? readWhole(file);
}

/** Undefined when the file is not in the streamed layout. */
async function readStreamed(file: string): Promise<ResultsFile | undefined> {
  const input = createReadStream(file, { encoding: 'utf8' });
  const rl = createInterface({ input, crlfDelay: Infinity });
  const head: string[] = [];
  let state: 'head' | 'lines' | 'tail' = 'head';
  let results: ResultsSummary | undefined;
  let table: LineTable | undefined;
  let keys: Set<string> | undefined;
  let evaluators: string[] = [];
  let index = 0;
  let textLine = 0;
  try {
    for await (const text of rl) {
      textLine += 1;
      if (state === 'head') {
        if (text !== LINES_OPEN) {
          head.push(text);
          continue;
        }
        results = parseSummary(file, `${head.join('\n')}\n  "lines": []\n}`);
        if (!results) return undefined;
        keys = new Set(results.metrics.flatMap((m) => (m.scoreKey ? [m.scoreKey] : [])));
        evaluators = [...new Set(results.evaluations.map((e) => e.evaluator))];
        table = new LineTable();
        for (const run of results.runs) table.addRun(run.runId, run.variantId, run.dataset, run.lines);
        state = 'lines';
        continue;
      }
      if (state === 'tail') continue;
      const trimmed = text.trim();
      if (trimmed === ']') {
        state = 'tail';
        continue;
      }
      let line: unknown;
      try {
        line = JSON.parse(trimmed.endsWith(',') ? trimmed.slice(0, -1) : trimmed);
      } catch {
        return undefined; // not one line per text line: an older layout
      }
      const problems = validateResultsLine(line, index);
      if (problems.length)
        throw new ConfigError(
          problems.slice(0, 10).map((p) => ({ file, line: textLine, message: `${p}; ${expected}` })),
        );
      table!.addLine(line as LineResult, { keys, evaluators });
      index += 1;
    }
  } finally {
    rl.close();
    input.destroy();
  }
  if (state !== 'tail' || !results || !table) return undefined;
  table.compact();
  return { results, table };
}

/** The summary part, checked; undefined when it is not JSON (then the whole file is parsed, for its error). */
function parseSummary(file: string, text: string): ResultsSummary | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  check(file, value);
  const { lines: _lines, ...summary } = value as Results;
  return summary;
}

function readWhole(file: string): ResultsFile {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw ConfigError.at({ file }, `not readable as JSON (${(e as Error).message}); ${expected}`);
  }
  check(file, value);
  const { lines, ...results } = value as Results;
  const keys = new Set(results.metrics.flatMap((m) => (m.scoreKey ? [m.scoreKey] : [])));
  const table = new LineTable();
  for (const run of results.runs) table.addRun(run.runId, run.variantId, run.dataset);
  const evaluators = [...new Set(results.evaluations.map((e) => e.evaluator))];
  for (const line of lines) table.addLine(line, { keys, evaluators });
  table.compact();
  return { results, table };
}

function check(file: string, value: unknown): void {
  const problems = validateResults(value);
  if (problems.length)
    throw new ConfigError(problems.slice(0, 10).map((p) => ({ file, message: `${p}; ${expected}` })));
}

/**
 * The order every report shows lines in: run by run (the results model's run order), each run's
 * lines by line number. The run store records lines as they complete, so under concurrency
 * `outputs.jsonl` is in completion order; a results value built in memory may be too.
 * @module
 */
import type { LineResult, Results } from '../results/model.js';
import type { LineColumns, ReportData } from '../results/report-data.js';
import { makeRedactor, redactDeep, redactResults } from './redact.js';

/** `results` with its lines in line order (a new object; the input is left as it is). */
export function inLineOrder(results: Results): Results {
  const runIndex = new Map(results.runs.map((run, i) => [run.runId, i]));
  const rank = (runId: string) => runIndex.get(runId) ?? runIndex.size;
  const lines = results.lines
    .map((line, arrival) => ({ line, arrival }))
    .sort(
      (a, b) =>
        rank(a.line.runId) - rank(b.line.runId) ||
        a.line.runId.localeCompare(b.line.runId) ||
        a.line.lineNumber - b.line.lineNumber ||
        a.arrival - b.arrival,
    )
    .map((x) => x.line);
  return { ...results, lines };
}

/** Report data of a results value held in memory (a results.json, tests): lines sorted, columns gathered. */
export function dataOf(results: Results): ReportData {
  const { lines, ...summary } = inLineOrder(results);
  const columns = new Map<string, LineColumns>();
  const sets = new Map<string, { inputs: Set<string>; outputs: Set<string>; scores: Set<string> }>();
  for (const l of lines) {
    let s = sets.get(l.runId);
    if (!s) sets.set(l.runId, (s = { inputs: new Set(), outputs: new Set(), scores: new Set() }));
    for (const k of Object.keys(l.inputs)) s.inputs.add(k);
    for (const k of Object.keys(l.outputs ?? {})) s.outputs.add(k);
    for (const k of Object.keys(l.scores)) s.scores.add(k);
  }
  for (const [runId, s] of sets)
    columns.set(runId, { inputs: [...s.inputs], outputs: [...s.outputs], scores: [...s.scores] });
  const failed = lines.filter((l) => l.error);
  return { results: summary, columns, failed: { count: failed.length, lines: failed }, lines: () => lines };
}

/** What every renderer starts from: secrets removed, lines in line order. */
export function forRendering(input: Results | ReportData, secrets: readonly string[] | undefined): ReportData {
  if (!('columns' in input)) return dataOf(redactResults(input, secrets));
  if (!secrets || !secrets.some((s) => s.length > 0)) return input;
  const redact = makeRedactor(secrets);
  const line = (l: LineResult) => redactDeep(l, redact);
  const source = input.lines;
  return {
    results: redactDeep(input.results, redact),
    columns: new Map([...input.columns].map(([runId, c]) => [redact(runId), redactDeep(c, redact)])),
    failed: { count: input.failed.count, lines: input.failed.lines.map(line) },
    lines: () => mapLines(source(), line),
    ...(input.history ? { history: input.history } : {}),
  };
}

/** `fn` over every line of a stream, keeping it synchronous when it was. */
export function mapLines(
  lines: Iterable<LineResult> | AsyncIterable<LineResult>,
  fn: (l: LineResult) => LineResult,
): Iterable<LineResult> | AsyncIterable<LineResult> {
  if (Symbol.asyncIterator in lines)
    return (async function* () {
      for await (const l of lines) yield fn(l);
    })();
  return (function* () {
    for (const l of lines) yield fn(l);
  })();
}

/** Keys of `runs`' columns (in run order, first seen first). */
export function columnUnion(data: ReportData, runIds: Iterable<string>, pick: keyof LineColumns): string[] {
  const keys = new Set<string>();
  for (const runId of runIds) for (const k of data.columns.get(runId)?.[pick] ?? []) keys.add(k);
  return [...keys];
}

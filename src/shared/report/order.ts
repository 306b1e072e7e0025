/**
 * The order every report shows lines in: run by run (the results model's run order), each run's
 * lines by line number. The run store records lines as they complete, so under concurrency
 * `outputs.jsonl` (and the model built from it) is in completion order.
 * @module
 */
import type { Results } from '../results/model.js';
import { redactResults } from './redact.js';

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

/** What every renderer starts from: secrets removed, lines in line order. */
export function forRendering(results: Results, secrets: readonly string[] | undefined): Results {
  return inLineOrder(redactResults(results, secrets));
}

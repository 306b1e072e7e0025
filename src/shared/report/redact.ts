/**
 * Secret redaction for reports. Secrets are removed from the results value itself, before any
 * renderer escapes or quotes it — once a secret is HTML-, CSV-, JSON- or XML-escaped it no
 * longer matches its raw text, so redacting the rendered files would miss it. Personal data
 * (an asynchronous redactor) is removed from the report data the same way: every format then
 * shows the same redacted text, and no rendered file is read back.
 * @module
 */
import type { LineResult } from '../results/model.js';
import type { ReportData } from '../results/report-data.js';

/** What a secret is replaced with. */
export const REDACTED = '***';

/** A function that replaces every secret inside one string. */
export type Redactor = (text: string) => string;

/**
 * Builds a redactor for `secrets`. Empty strings are ignored; longer secrets are replaced
 * first so a secret that contains another one disappears entirely.
 */
export function makeRedactor(secrets: readonly string[] = []): Redactor {
  const list = [...new Set(secrets.filter((s) => typeof s === 'string' && s.length > 0))].sort(
    (a, b) => b.length - a.length,
  );
  if (list.length === 0) return (text) => text;
  const pattern = new RegExp(list.map(escapeRegExp).join('|'), 'g');
  return (text) => (text.length === 0 ? text : text.replace(pattern, REDACTED));
}

/** A deep copy of `value` with every string (object keys too) passed through `redact`. */
export function redactDeep<T>(value: T, redact: Redactor): T {
  return walk(value, redact) as T;
}

function walk(value: unknown, redact: Redactor): unknown {
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return value.map((item) => walk(item, redact));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[redact(key)] = walk(item, redact);
    return out;
  }
  return value;
}

/** Redacts `results` for `secrets`, returning the same object when there is nothing to redact. */
export function redactResults<T>(results: T, secrets: readonly string[] | undefined): T {
  if (!secrets || !secrets.some((s) => s.length > 0)) return results;
  return redactDeep(results, makeRedactor(secrets));
}

/** A JSON value with its strings redacted (keys left alone), asynchronously: the PII redactor's `redactValue`. */
export type ValueRedactor = <T>(value: T) => Promise<T>;

/**
 * Report data whose every string is passed through `redactValue`: the summary, the failed lines and the trend at
 * once, the lines as each walk of them passes (they are never all held). Column names are the flow's own names.
 */
export async function redactReportData(data: ReportData, redactValue: ValueRedactor): Promise<ReportData> {
  const source = data.lines;
  const [results, failedLines, history] = await Promise.all([
    redactValue(data.results),
    redactValue(data.failed.lines),
    data.history ? redactValue(data.history) : undefined,
  ]);
  return {
    results,
    columns: data.columns,
    failed: { count: data.failed.count, lines: failedLines },
    lines: () => redactedLines(source(), redactValue),
    ...(history ? { history } : {}),
  };
}

async function* redactedLines(
  lines: Iterable<LineResult> | AsyncIterable<LineResult>,
  redactValue: ValueRedactor,
): AsyncIterable<LineResult> {
  for await (const line of lines) yield await redactValue(line);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

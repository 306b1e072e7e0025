/**
 * What an early-stop gate reads as a line's score: a built-in scorer's output named like its metric, or an
 * evaluation flow's per-line output (`line_score: output`, `output.key`, or `output == value` for a text or coded
 * grade such as "Correct" or 1/0/-1). The same reading serves bulk-run, evaluate and report.
 * @module
 */
import type { Gate } from '../config/types.js';

/** `line_score` parsed: where the value is, and the value a line passes with (its score 1, any other 0). */
export interface LineScoreSpec {
  path: string;
  equals?: string;
}

const EQUALS = /^(.*?)\s*==\s*(.*)$/s;

export function parseLineScore(text: string): LineScoreSpec {
  const m = EQUALS.exec(text);
  return m ? { path: m[1].trim(), equals: unquote(m[2].trim()) } : { path: text.trim() };
}

/** `grade == "Correct"` and `grade == Correct` name the same grade. */
function unquote(v: string): string {
  return /^(["']).*\1$/s.test(v) ? v.slice(1, -1) : v;
}

/** What a gate's per-line score is read from: line_score, else the output named like the metric. */
export function lineScorePath(gate: Gate): string {
  return gate.lineScore ?? gate.metric;
}

/**
 * A line's score by `spec` (a line_score text) over its outputs: a number in [0, 1], a boolean as 1 or 0, with
 * `== value` 1 when the value's text is that value and 0 otherwise; none when missing; `bad` for anything else.
 */
export function lineScoreOf(
  outputs: Record<string, unknown>,
  spec: string,
): { score?: number; bad?: boolean; found?: unknown } {
  const { path, equals } = parseLineScore(spec);
  let v: unknown = outputs[path];
  if (v === undefined && path.includes('.')) {
    const [output, ...key] = path.split('.');
    const holder = outputs[output];
    v = holder !== null && typeof holder === 'object' ? (holder as Record<string, unknown>)[key.join('.')] : undefined;
  }
  if (v === undefined || v === null) return {};
  if (equals !== undefined)
    return typeof v === 'object' ? { bad: true, found: v } : { score: String(v) === equals ? 1 : 0 };
  if (typeof v === 'boolean') return { score: v ? 1 : 0 };
  if (typeof v === 'number' && v >= 0 && v <= 1) return { score: v };
  return { bad: true, found: v };
}

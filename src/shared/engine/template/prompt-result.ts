/**
 * The output value of a `prompt` node (Prompt Flow's `PromptResult`, a `str` subclass).
 * @module
 */

/**
 * Placeholder → role word as written (e.g. `"3f2c…-uuid" → "System"`), in insertion order. Role words found on
 * role-marker lines of escaped values are replaced by their placeholder before rendering and restored after
 * chat parsing (promptflow-formats.md §2.5).
 */
export type EscapeMap = Map<string, string>;

/**
 * What a prompt node outputs: the rendered text, plus — when some input needed role escaping — the same
 * template rendered with escaped inputs and the map that undoes it. Downstream LLM/prompt nodes use
 * `escapedText` + `escapeMap`; everything else (python nodes, flow outputs, run records) uses `text`
 * (`toString()`/`toJSON()` give `text`, so it serialises as a plain string).
 */
export class PromptResult {
  constructor(
    readonly text: string,
    readonly escapedText = '',
    readonly escapeMap: EscapeMap = new Map(),
  ) {}

  /** Whether downstream templates must substitute `escapedText` and merge `escapeMap` (`need_to_escape`). */
  get needsEscape(): boolean {
    return this.escapeMap.size > 0;
  }

  toString(): string {
    return this.text;
  }

  toJSON(): string {
    return this.text;
  }
}

/** The plain string of a node output that may be a `PromptResult` (other values are returned unchanged). */
export function unwrapPromptResult<T>(value: T | PromptResult): T | string {
  return value instanceof PromptResult ? value.text : value;
}

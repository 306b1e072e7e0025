/**
 * A code evaluator's result rows, kept in a file while its functions run and read back line by line when they
 * are merged: `evaluate()` over a million lines returns a million rows, which arrive from the worker in parts and
 * are never all held here.
 * @module
 */
import { appendFileSync, createReadStream, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parsePyJson, stringifyPyJson } from '../../engine/python-worker/index.js';
import { PyFloat } from '../../engine/template/index.js';

export class ResultRows {
  private rows = 0;
  /** `<evaluator>.<score>` names of the `outputs.<evaluator>.<score>` columns seen in any row. */
  readonly scoreKeys = new Set<string>();

  constructor(readonly file: string) {
    writeFileSync(file, '');
  }

  get count(): number {
    return this.rows;
  }

  /** Appends rows (objects; anything else counts as an empty row, keeping the rows' line numbers). */
  add(rows: readonly unknown[]): void {
    let text = '';
    for (const raw of rows) {
      const row = plainNumbers(raw);
      const value = row && typeof row === 'object' && !Array.isArray(row) ? (row as Record<string, unknown>) : {};
      for (const k in value) if (k.startsWith('outputs.') && k.slice(8).includes('.')) this.scoreKeys.add(k.slice(8));
      text += `${stringifyPyJson(value)}\n`;
      this.rows++;
    }
    if (text) appendFileSync(this.file, text);
  }

  /** The rows in order, one at a time. */
  async *read(): AsyncGenerator<Record<string, unknown>> {
    const lines = createInterface({ input: createReadStream(this.file), crlfDelay: Infinity });
    for await (const line of lines) if (line) yield parsePyJson(line) as Record<string, unknown>;
  }

  remove(): void {
    rmSync(this.file, { force: true });
  }
}

/**
 * Python's whole-number floats arrive as PyFloat (so a template prints `4.0` as Python would); scores and
 * metrics are plain numbers.
 */
export function plainNumbers(value: unknown): unknown {
  if (value instanceof PyFloat) return value.value;
  if (Array.isArray(value)) return value.map(plainNumbers);
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainNumbers(v)]));
  return value;
}

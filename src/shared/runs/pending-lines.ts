/**
 * The lines a batch run still has to run: data rows (a read chunk at a time) through the column mapping,
 * aligned with a referenced run, minus the lines an earlier session finished; and the queue the workers take
 * them from.
 * @module
 */
import { dataFiles, readDataFileBatches, type DataRow } from './data.js';
import type { CompiledMapping } from './mapping.js';

/** A referenced source's values for a line; undefined when the line is not in that source. */
export type LineSource = (lineNumber: number) => Record<string, unknown> | undefined;

/** One line to run. */
export interface PendingLine {
  lineNumber: number;
  /** With `repeat: K` (K > 1): the data line and which of its K repetitions this is. */
  repetition?: { sourceLine: number; index: number };
  inputs: Record<string, unknown>;
  /** The line's data row (kept only when asked: early stopping scores a line from it). */
  row?: DataRow;
  /** Finished in an earlier session: not run again, handed on only when asked (early stopping re-reads it). */
  recorded?: true;
  /** The line's place in the order it is handed out (set by whoever orders the lines, for early stopping). */
  place?: number;
  /** What scoring the line needs beyond its row (early stopping: an evaluation dataset's rows of the line). */
  scoring?: unknown;
}

/** How early stopping reads the pending lines. */
export interface PendingOptions {
  /** Says before a line is made whether it is wanted (the seed's order reads a window of lines at a time). */
  wanted?: (lineNumber: number) => boolean;
  /** Keep each line's data row on it. */
  rows?: boolean;
  /** Hand on finished lines too, marked `recorded`, with their rows, instead of skipping them. */
  recorded?: boolean;
}

/**
 * Lines still to run, a data batch at a time: line number = the row's line_number column, else its position (§6.3).
 * `runInputs` 'data': the referenced run read the same data, so its row of a line is this row.
 */
export async function* pendingLines(
  data: string[],
  mapping: CompiledMapping,
  runOutputs?: LineSource,
  runInputs?: LineSource | 'data',
  finished?: { has(lineNumber: number): boolean },
  range?: { start: number; end: number },
  repeat = 1,
  how: PendingOptions = {},
): AsyncGenerator<PendingLine[]> {
  const { wanted, rows: keepRows, recorded } = how;
  let position = 0;
  const start = range?.start ?? 0;
  const end = range?.end ?? Infinity;
  for (const path of data) {
    for (const file of dataFiles(path)) {
      for await (const rows of readDataFileBatches(file)) {
        if (position >= end) return;
        const out: PendingLine[] = [];
        for (const row of rows) {
          const dataLine = typeof row.line_number === 'number' ? row.line_number : position;
          position++;
          // A shard's piece: rows by position in the data, [start, end).
          if (position <= start || position > end) continue;
          // `repeat: K`: data line d runs as lines d·K … d·K + K − 1 (a run over a repeated run pairs them the same).
          for (let rep = 0; rep < repeat; rep++) {
            const lineNumber = repeat > 1 ? dataLine * repeat + rep : dataLine;
            if (wanted && !wanted(lineNumber)) continue;
            if (finished?.has(lineNumber)) {
              if (recorded) out.push({ lineNumber, inputs: {}, row, recorded: true });
              continue;
            }
            const outs = runOutputs?.(lineNumber);
            if (runOutputs && !outs) continue; // aligned lines only: a line missing from any source is dropped
            const ins = runInputs === 'data' ? row : runInputs?.(repeat > 1 ? dataLine : lineNumber);
            if (runInputs && !ins) continue;
            const inputs = mapping.apply({ data: row, 'run.outputs': outs, 'run.inputs': ins });
            inputs.line_number = lineNumber;
            const line: PendingLine =
              repeat > 1
                ? { lineNumber, inputs, repetition: { sourceLine: dataLine, index: rep } }
                : { lineNumber, inputs };
            if (keepRows) line.row = row;
            out.push(line);
          }
        }
        if (out.length > 0) yield out;
      }
    }
  }
}

/** Hands out pending lines to the workers: synchronously while the current batch lasts, one shared read after. */
export class LineQueue {
  private batch: PendingLine[] = [];
  private next = 0;
  private ended = false;
  private reading: Promise<void> | undefined;
  constructor(private readonly source: AsyncIterator<PendingLine[]>) {}

  /** The next line, or undefined when there are none left. */
  take(): PendingLine | undefined | Promise<PendingLine | undefined> {
    if (this.next < this.batch.length) return this.batch[this.next++];
    if (this.ended) return undefined;
    this.reading ??= this.source.next().then((r) => {
      this.reading = undefined;
      if (r.done) this.ended = true;
      else {
        this.batch = r.value;
        this.next = 0;
      }
    });
    return this.reading.then(() => this.take());
  }
}

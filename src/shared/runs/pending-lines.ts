/**
 * The lines a batch run still has to run: data rows (a read chunk at a time) through the column mapping,
 * aligned with a referenced run, minus the lines an earlier session finished; and the queue the workers take
 * them from.
 * @module
 */
import { dataFiles, readDataFileBatches } from './data.js';
import type { CompiledMapping } from './mapping.js';

/** A referenced source's values for a line; undefined when the line is not in that source. */
export type LineSource = (lineNumber: number) => Record<string, unknown> | undefined;

/** One line to run. */
export interface PendingLine {
  lineNumber: number;
  /** With `repeat: K` (K > 1): the data line and which of its K repetitions this is. */
  repetition?: { sourceLine: number; index: number };
  inputs: Record<string, unknown>;
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
): AsyncGenerator<PendingLine[]> {
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
            if (finished?.has(lineNumber)) continue;
            const outs = runOutputs?.(lineNumber);
            if (runOutputs && !outs) continue; // aligned lines only: a line missing from any source is dropped
            const ins = runInputs === 'data' ? row : runInputs?.(repeat > 1 ? dataLine : lineNumber);
            if (runInputs && !ins) continue;
            const inputs = mapping.apply({ data: row, 'run.outputs': outs, 'run.inputs': ins });
            inputs.line_number = lineNumber;
            out.push(
              repeat > 1
                ? { lineNumber, inputs, repetition: { sourceLine: dataLine, index: rep } }
                : { lineNumber, inputs },
            );
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

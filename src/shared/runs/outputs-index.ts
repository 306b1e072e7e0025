/**
 * An offset index of an outputs.jsonl: where each record starts, keyed by its line number, so a run's records
 * can be read in line order, or one line looked up, without holding the records. About 13 bytes a record (a
 * file offset, a record number and a status byte, plus 8 bytes when line numbers are not 0..n-1), against
 * several kB for a parsed record.
 * @module
 */
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { parsePyJson } from '../engine/python-worker/index.js';
import type { LineRecord } from './store.js';

/** `{"line_number":` — how our writer starts every record (JSON.stringify keeps key order). */
const PREFIX = Buffer.from('{"line_number":');
/** What follows the line number in a completed record of our writer. */
const COMPLETED = Buffer.from(',"status":"Completed"');
const FAILED = Buffer.from(',"status":"Failed"');
/** Bytes read at once by positioned reads: records written near each other are read together. */
const WINDOW = 256 * 1024;
/** Bytes read at once while indexing. */
const READ_CHUNK = 1 << 20;

/** Growable typed arrays: the index never holds a JS object per record. */
class Float64List {
  data = new Float64Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = v;
  }
}
class Uint8List {
  data = new Uint8Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const grown = new Uint8Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = v;
  }
}

/** No record: a slot of the line-number table. */
const NONE = 0xffffffff;

/**
 * The line number and status of a record from its first bytes, without parsing it; undefined when not our
 * writer's layout.
 */
function fastLineNumber(buf: Buffer, start: number, end: number): { n: number; completed: boolean } | undefined {
  if (end - start <= PREFIX.length || buf.compare(PREFIX, 0, PREFIX.length, start, start + PREFIX.length) !== 0)
    return undefined;
  let n = 0;
  let i = start + PREFIX.length;
  const first = i;
  for (; i < end; i++) {
    const c = buf[i];
    if (c < 0x30 || c > 0x39) break;
    n = n * 10 + (c - 0x30);
  }
  // Only a plain non-negative integer followed by `,` or `}`; anything else goes the slow way.
  if (i === first || i - first > 15 || buf[i] !== 0x2c) return undefined;
  if (end - i < COMPLETED.length) return undefined;
  const completed = buf.compare(COMPLETED, 0, COMPLETED.length, i, i + COMPLETED.length) === 0;
  // Anything but `"status":"Completed"` or `"status":"Failed"` next: the slow way decides.
  if (!completed && buf.compare(FAILED, 0, FAILED.length, i, Math.min(end, i + FAILED.length)) !== 0) return undefined;
  return { n, completed };
}

/**
 * The records of one outputs.jsonl by line number. Build with `OutputsIndex.build(file)`; the file must not be
 * appended to while the index is used (it reads the records at the offsets it saw).
 */
export class OutputsIndex {
  /** Record k of the file (finishing order) starts at starts[k] and ends before starts[k + 1]. */
  private constructor(
    private readonly file: string,
    private readonly starts: Float64Array,
    /**
     * Line numbers in ascending order, one per distinct line (the first record of a line wins); undefined when
     * they are 0..n-1 (the usual run: then a line's position is its number, and nothing is stored).
     */
    private readonly lineNumbers: Float64Array | undefined,
    /** For lineNumbers[i], the record index in the file. */
    private readonly recordOf: Uint32Array,
    /** For lineNumbers[i], 1 when its record's status is Completed. */
    private readonly completedFlags: Uint8Array,
  ) {}

  /** Distinct lines recorded. */
  get size(): number {
    return this.recordOf.length;
  }

  /** Scans the file once (a torn or unreadable record is left out, as readers skip it). */
  static async build(file: string): Promise<OutputsIndex> {
    const starts = new Float64List();
    const numbers = new Float64List();
    const completed = new Uint8List();
    let size = 0;
    if (existsSync(file)) {
      let offset = 0; // file offset of `buf[0]`
      const take = (buf: Buffer, base: number, from: number, to: number) => {
        if (to <= from) return;
        let seen = fastLineNumber(buf, from, to);
        if (seen === undefined) {
          try {
            const rec = parsePyJson(buf.toString('utf8', from, to)) as { line_number?: unknown; status?: unknown };
            const v = rec.line_number;
            if (typeof v === 'number' && Number.isFinite(v)) seen = { n: v, completed: rec.status === 'Completed' };
          } catch {
            // a torn line from a kill: skipped, as readLineRecords does
          }
        }
        if (seen === undefined) return;
        starts.push(base + from);
        numbers.push(seen.n);
        completed.push(seen.completed ? 1 : 0);
      };
      // One reused buffer (no allocation per chunk): a partial record at its end moves to its start.
      const fh = await open(file, 'r');
      let buf = Buffer.allocUnsafe(READ_CHUNK);
      let filled = 0;
      try {
        for (;;) {
          const { bytesRead } = await fh.read(buf, filled, buf.length - filled, offset + filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
          let from = 0;
          for (let nl = buf.indexOf(0x0a, from); nl >= 0 && nl < filled; nl = buf.indexOf(0x0a, from)) {
            take(buf, offset, from, nl);
            from = nl + 1;
          }
          if (from === 0 && filled === buf.length) {
            // A record longer than the buffer: grow it.
            const grown = Buffer.allocUnsafe(buf.length * 2);
            buf.copy(grown, 0, 0, filled);
            buf = grown;
            continue;
          }
          buf.copy(buf, 0, from, filled);
          filled -= from;
          offset += from;
        }
      } finally {
        await fh.close();
      }
      const carry = buf.subarray(0, filled);
      take(carry, offset, 0, carry.length);
      size = offset + carry.length;
    }
    return OutputsIndex.sorted(file, starts, numbers, completed, size);
  }

  private static sorted(
    file: string,
    starts: Float64List,
    numbers: Float64List,
    completed: Uint8List,
    size: number,
  ): OutputsIndex {
    const count = numbers.length;
    const nums = numbers.data.subarray(0, count);
    let max = -1;
    let integers = true;
    for (let k = 0; k < count && integers; k++) {
      const n = nums[k];
      integers = Number.isInteger(n) && n >= 0 && n < NONE;
      if (n > max) max = n;
    }
    // Record k ends where record k + 1 starts; the last one at the end of the file.
    starts.push(size);
    const ends = starts.data.slice(0, count + 1);
    let order: Uint32Array;
    let lineNumbers: Float64Array | undefined;
    if (integers && max < 2 * count + 1024) {
      // Line numbers are (nearly) 0..n-1: a table by line number, no sort (4 bytes a line).
      const slots = new Uint32Array(max + 1).fill(NONE);
      for (let k = 0; k < count; k++) if (slots[nums[k]] === NONE) slots[nums[k]] = k; // the first record wins
      let distinct = 0;
      let dense = true;
      for (let n = 0; n <= max; n++)
        if (slots[n] !== NONE) {
          if (n !== distinct) dense = false;
          distinct++;
        }
      order = new Uint32Array(distinct);
      if (!dense) lineNumbers = new Float64Array(distinct);
      let i = 0;
      for (let n = 0; n <= max; n++)
        if (slots[n] !== NONE) {
          if (lineNumbers) lineNumbers[i] = n;
          order[i++] = slots[n];
        }
    } else {
      const all = new Uint32Array(count);
      for (let k = 0; k < count; k++) all[k] = k;
      all.sort((a, b) => nums[a] - nums[b] || a - b);
      // Drop repeated line numbers (the first record written is the line's result).
      let distinct = 0;
      for (let i = 0; i < count; i++) if (i === 0 || nums[all[i]] !== nums[all[i - 1]]) all[distinct++] = all[i];
      order = all.slice(0, distinct);
      lineNumbers = new Float64Array(distinct);
      for (let i = 0; i < distinct; i++) lineNumbers[i] = nums[order[i]];
    }
    const flags = new Uint8Array(order.length);
    for (let i = 0; i < order.length; i++) flags[i] = completed.data[order[i]];
    return new OutputsIndex(file, ends, lineNumbers, order, flags);
  }

  /** The line numbers recorded, ascending. */
  *numbers(): Generator<number> {
    for (let i = 0; i < this.recordOf.length; i++) yield this.lineNumbers ? this.lineNumbers[i] : i;
  }

  /** Position of `lineNumber` in lineNumbers, or -1. */
  private find(lineNumber: number): number {
    const numbers = this.lineNumbers;
    if (!numbers) return Number.isInteger(lineNumber) && lineNumber >= 0 && lineNumber < this.size ? lineNumber : -1;
    let lo = 0;
    let hi = numbers.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = numbers[mid];
      if (v === lineNumber) return mid;
      if (v < lineNumber) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  has(lineNumber: number): boolean {
    return this.find(lineNumber) >= 0;
  }

  /** True when the line's record says Completed. */
  completed(lineNumber: number): boolean {
    const i = this.find(lineNumber);
    return i >= 0 && this.completedFlags[i] === 1;
  }

  /** Completed lines, or those of them whose line number is below `below`. */
  completedCount(below = Number.POSITIVE_INFINITY): number {
    let n = 0;
    for (let i = 0; i < this.size && (this.lineNumbers ? this.lineNumbers[i] : i) < below; i++)
      n += this.completedFlags[i];
    return n;
  }

  /** A reader for positioned reads; close it when done. */
  reader(): OutputsReader {
    return new OutputsReader(this.file, (i) => this.find(i), this.starts, this.recordOf);
  }

  /** The records in line order (one per line), read from the file at their offsets. */
  async *inOrder(): AsyncGenerator<LineRecord> {
    const reader = this.reader();
    try {
      for (let i = 0; i < this.recordOf.length; i++) {
        const rec = reader.at(i);
        if (rec) yield rec;
      }
    } finally {
      reader.close();
    }
  }
}

/** Positioned reads of one indexed file through a window buffer (records finished together sit together). */
export class OutputsReader {
  private fd: number | undefined;
  private window = Buffer.alloc(WINDOW);
  private windowStart = 0;
  private windowLength = 0;
  constructor(
    file: string,
    private readonly find: (lineNumber: number) => number,
    private readonly starts: Float64Array,
    private readonly recordOf: Uint32Array,
  ) {
    this.fd = existsSync(file) ? openSync(file, 'r') : undefined;
  }

  /** The record of a line, or undefined when the run has none. */
  get(lineNumber: number): LineRecord | undefined {
    const i = this.find(lineNumber);
    return i < 0 ? undefined : this.at(i);
  }

  /** The i-th record in line order. */
  at(i: number): LineRecord | undefined {
    const k = this.recordOf[i];
    const start = this.starts[k];
    const end = this.starts[k + 1];
    const text = this.read(start, end);
    try {
      return parsePyJson(text) as LineRecord;
    } catch {
      return undefined;
    }
  }

  /** Bytes [start, end) up to the record's newline (end is the next record's start, or the end of file). */
  private read(start: number, end: number): string {
    if (this.fd === undefined) return '';
    const inWindow = start >= this.windowStart && start < this.windowStart + this.windowLength;
    if (!inWindow || !this.holdsLine(start)) this.fill(start, end);
    const from = start - this.windowStart;
    const to = Math.min(this.windowLength, end - this.windowStart);
    let nl = this.window.indexOf(0x0a, from);
    if (nl < 0 || nl > to) nl = to;
    return this.window.toString('utf8', from, nl);
  }

  /** True when the window holds the record at `start` up to its newline. */
  private holdsLine(start: number): boolean {
    const nl = this.window.indexOf(0x0a, start - this.windowStart);
    return nl >= 0 && nl < this.windowLength;
  }

  private fill(start: number, end: number): void {
    const need = end - start;
    if (need > this.window.length) this.window = Buffer.alloc(need);
    this.windowStart = start;
    this.windowLength = readSync(this.fd!, this.window, 0, this.window.length, start);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

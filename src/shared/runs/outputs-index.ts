/**
 * An offset index of an outputs.jsonl: where each record starts, keyed by its line number, so a run's records
 * can be read in line order, or one line looked up, without holding the records. About 16 bytes a record (a
 * packed sort key and a file offset), against several kB for a parsed record.
 * @module
 */
import { closeSync, createReadStream, existsSync, openSync, readSync } from 'node:fs';
import { parsePyJson } from '../engine/python-worker/index.js';
import type { LineRecord } from './store.js';

/** `{"line_number":` — how our writer starts every record (JSON.stringify keeps key order). */
const PREFIX = Buffer.from('{"line_number":');
/** Bytes read at once by positioned reads: records written near each other are read together. */
const WINDOW = 256 * 1024;

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

/** The line number of a record from its first bytes, without parsing it; undefined when not our layout. */
function fastLineNumber(buf: Buffer, start: number, end: number): number | undefined {
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
  if (i === first || i - first > 15 || (buf[i] !== 0x2c && buf[i] !== 0x7d)) return undefined;
  return n;
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
    /** Line numbers in ascending order, one per distinct line (the first record of a line wins). */
    private readonly lineNumbers: Float64Array,
    /** For lineNumbers[i], the record index in the file. */
    private readonly recordOf: Uint32Array,
  ) {}

  /** Distinct lines recorded. */
  get size(): number {
    return this.lineNumbers.length;
  }

  /** Scans the file once (a torn or unreadable record is left out, as readers skip it). */
  static async build(file: string): Promise<OutputsIndex> {
    const starts = new Float64List();
    const numbers = new Float64List();
    let size = 0;
    if (existsSync(file)) {
      let offset = 0; // file offset of `carry[0]`
      let carry: Buffer = Buffer.alloc(0);
      const take = (buf: Buffer, base: number, from: number, to: number) => {
        if (to <= from) return;
        let n = fastLineNumber(buf, from, to);
        if (n === undefined) {
          try {
            const v = (parsePyJson(buf.toString('utf8', from, to)) as { line_number?: unknown }).line_number;
            n = typeof v === 'number' && Number.isFinite(v) ? v : undefined;
          } catch {
            n = undefined; // a torn line from a kill: skipped, as readLineRecords does
          }
        }
        if (n === undefined) return;
        starts.push(base + from);
        numbers.push(n);
      };
      for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
        const buf = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
        let from = 0;
        for (let nl = buf.indexOf(0x0a, from); nl >= 0; nl = buf.indexOf(0x0a, from)) {
          take(buf, offset, from, nl);
          from = nl + 1;
        }
        carry = Buffer.from(buf.subarray(from));
        offset += from;
      }
      take(carry, offset, 0, carry.length);
      size = offset + carry.length;
    }
    return OutputsIndex.sorted(file, starts, numbers, size);
  }

  private static sorted(file: string, starts: Float64List, numbers: Float64List, size: number): OutputsIndex {
    const count = numbers.length;
    const nums = numbers.data.subarray(0, count);
    let order: Uint32Array;
    let packable = count < 2 ** 32;
    for (let k = 0; k < count && packable; k++)
      packable = Number.isInteger(nums[k]) && nums[k] >= 0 && nums[k] < 2 ** 32;
    if (packable) {
      // One native numeric sort of (line number, record index) packed in 64 bits: stable by construction.
      const keys = new BigUint64Array(count);
      for (let k = 0; k < count; k++) keys[k] = (BigInt(nums[k]) << 32n) | BigInt(k);
      keys.sort();
      order = new Uint32Array(count);
      for (let k = 0; k < count; k++) order[k] = Number(keys[k] & 0xffffffffn);
    } else {
      order = new Uint32Array(count);
      for (let k = 0; k < count; k++) order[k] = k;
      order.sort((a, b) => nums[a] - nums[b] || a - b);
    }
    // Drop repeated line numbers (the first record written is the line's result).
    let distinct = 0;
    for (let i = 0; i < count; i++) if (i === 0 || nums[order[i]] !== nums[order[i - 1]]) order[distinct++] = order[i];
    const lineNumbers = new Float64Array(distinct);
    for (let i = 0; i < distinct; i++) lineNumbers[i] = nums[order[i]];
    const ends = new Float64Array(count + 1);
    ends.set(starts.data.subarray(0, count));
    ends[count] = size;
    return new OutputsIndex(file, ends, lineNumbers, order.slice(0, distinct));
  }

  /** The line numbers recorded, ascending. */
  *numbers(): Generator<number> {
    for (let i = 0; i < this.lineNumbers.length; i++) yield this.lineNumbers[i];
  }

  /** Position of `lineNumber` in lineNumbers, or -1. */
  private find(lineNumber: number): number {
    let lo = 0;
    let hi = this.lineNumbers.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.lineNumbers[mid];
      if (v === lineNumber) return mid;
      if (v < lineNumber) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  has(lineNumber: number): boolean {
    return this.find(lineNumber) >= 0;
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

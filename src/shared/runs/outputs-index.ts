/**
 * An offset index of an outputs.jsonl: where each record starts, keyed by its line number, so a run's records
 * can be read in line order, or one line looked up, without holding the records. 5 bytes a line for the usual
 * run (a 32-bit file offset and a state byte, by line number; 9 when the file passes 4 GiB), 17 bytes a record
 * for scattered or fractional line numbers, against several kB for a parsed record.
 * @module
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
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

/**
 * A growable typed array in fixed-size blocks: growing never copies nor allocates one large block (a doubling
 * array holds the old and the new copy at once, and the freed blocks stay in the allocator's heap).
 */
class BlockList<A extends Float64Array | Uint8Array> {
  private readonly blocks: A[] = [];
  length = 0;
  constructor(private readonly make: (n: number) => A) {}
  push(v: number): void {
    const b = this.length >>> BLOCK_BITS;
    if (b === this.blocks.length) this.blocks.push(this.make(BLOCK));
    this.blocks[b][this.length++ & BLOCK_MASK] = v;
  }
  get(i: number): number {
    return this.blocks[i >>> BLOCK_BITS][i & BLOCK_MASK];
  }
}
const BLOCK_BITS = 14;
const BLOCK = 1 << BLOCK_BITS;
const BLOCK_MASK = BLOCK - 1;

/** A line's slot in the line table: no record, a record that did not complete, a completed record. */
const ABSENT = 0;
const RECORDED = 1;
const COMPLETED_FLAG = 2;

/**
 * Record offsets by line number, in blocks allocated when a line in them is first seen: the usual run (line
 * numbers 0..n-1, or a shard's range) costs 5 bytes a line (a 32-bit offset while the file is under 4 GiB, and a
 * state byte) and the index is filled while the file is read, with nothing to sort or copy afterwards.
 */
class LineTable {
  private readonly offsets: (Uint32Array | Float64Array | undefined)[] = [];
  private readonly states: (Uint8Array | undefined)[] = [];
  private blocksHeld = 0;
  /** Distinct lines recorded. */
  size = 0;
  /** Highest line number recorded, -1 when none. */
  max = -1;
  constructor(private readonly wide: boolean) {}

  /**
   * Records the first record of line `n`; false when the table cannot hold it (not a small non-negative
   * integer) or would hold mostly empty blocks (scattered line numbers): the caller then sorts instead.
   */
  set(n: number, start: number, completed: boolean): boolean {
    if (!Number.isInteger(n) || n < 0 || n >= 2 ** 31) return false;
    const b = n >>> BLOCK_BITS;
    let states = this.states[b];
    if (!states) {
      // Scattered line numbers would cost a block each: more blocks than lines can fill says sort instead.
      if (this.blocksHeld >= 4 + (4 * this.size) / BLOCK) return false;
      states = this.states[b] = new Uint8Array(BLOCK);
      this.offsets[b] = this.wide ? new Float64Array(BLOCK) : new Uint32Array(BLOCK);
      this.blocksHeld++;
    }
    const i = n & BLOCK_MASK;
    if (states[i] !== ABSENT) return true; // the first record of a line wins
    states[i] = completed ? COMPLETED_FLAG : RECORDED;
    this.offsets[b]![i] = start;
    this.size++;
    if (n > this.max) this.max = n;
    return true;
  }

  state(n: number): number {
    if (!Number.isInteger(n) || n < 0 || n > this.max) return ABSENT;
    return this.states[n >>> BLOCK_BITS]?.[n & BLOCK_MASK] ?? ABSENT;
  }

  /** Where line n's record starts, or -1. */
  start(n: number): number {
    return this.state(n) === ABSENT ? -1 : this.offsets[n >>> BLOCK_BITS]![n & BLOCK_MASK];
  }
}

/** Files from this size on need 64-bit offsets. */
const WIDE_FROM = 0xffffffff;

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

/** Sorted line numbers with their records' offsets and states: for line numbers the table cannot hold. */
interface SortedLines {
  numbers: Float64Array;
  starts: Float64Array;
  states: Uint8Array;
}

/**
 * Reads the records of one outputs.jsonl, handing each record's file offset, line number and status to `take`;
 * stops early when `take` returns false (and then returns false). A torn or unreadable record is left out, as
 * readers skip it.
 */
async function scan(file: string, take: (start: number, n: number, completed: boolean) => boolean): Promise<boolean> {
  if (!existsSync(file)) return true;
  let offset = 0; // file offset of `buf[0]`
  const one = (buf: Buffer, from: number, to: number): boolean => {
    if (to <= from) return true;
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
    return seen === undefined || take(offset + from, seen.n, seen.completed);
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
        if (!one(buf, from, nl)) return false;
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
  return one(buf, 0, filled);
}

/**
 * The records of one outputs.jsonl by line number. Build with `OutputsIndex.build(file)`; the file must not be
 * appended to while the index is used (it reads the records at the offsets it saw).
 */
export class OutputsIndex {
  private constructor(
    private readonly file: string,
    /** Exactly one of the two: the line table (the usual run), or sorted arrays (any other line numbers). */
    private readonly table: LineTable | undefined,
    private readonly sorted: SortedLines | undefined,
  ) {}

  /** Distinct lines recorded. */
  get size(): number {
    return this.table ? this.table.size : this.sorted!.numbers.length;
  }

  /** Scans the file once (twice when its line numbers are not a table's: scattered, fractional, negative). */
  static async build(file: string): Promise<OutputsIndex> {
    const wide = existsSync(file) && statSync(file).size >= WIDE_FROM;
    const table = new LineTable(wide);
    if (await scan(file, (start, n, completed) => table.set(n, start, completed)))
      return new OutputsIndex(file, table, undefined);
    const starts = new BlockList((n) => new Float64Array(n));
    const numbers = new BlockList((n) => new Float64Array(n));
    const states = new BlockList((n) => new Uint8Array(n));
    await scan(file, (start, n, completed) => {
      starts.push(start);
      numbers.push(n);
      states.push(completed ? COMPLETED_FLAG : RECORDED);
      return true;
    });
    return new OutputsIndex(file, undefined, sortLines(starts, numbers, states));
  }

  /** The line numbers recorded, ascending. */
  *numbers(): Generator<number> {
    const table = this.table;
    if (table) {
      for (let n = 0; n <= table.max; n++) if (table.state(n) !== ABSENT) yield n;
    } else yield* this.sorted!.numbers;
  }

  /** Position of `lineNumber` in the sorted line numbers, or -1. */
  private find(lineNumber: number): number {
    const numbers = this.sorted!.numbers;
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

  private state(lineNumber: number): number {
    if (this.table) return this.table.state(lineNumber);
    const i = this.find(lineNumber);
    return i < 0 ? ABSENT : this.sorted!.states[i];
  }

  /** Where the line's record starts in the file, or -1. */
  private start(lineNumber: number): number {
    if (this.table) return this.table.start(lineNumber);
    const i = this.find(lineNumber);
    return i < 0 ? -1 : this.sorted!.starts[i];
  }

  has(lineNumber: number): boolean {
    return this.state(lineNumber) !== ABSENT;
  }

  /** True when the line's record says Completed. */
  completed(lineNumber: number): boolean {
    return this.state(lineNumber) === COMPLETED_FLAG;
  }

  /** Completed lines, or those of them whose line number is below `below`. */
  completedCount(below = Number.POSITIVE_INFINITY): number {
    let count = 0;
    for (const n of this.numbers()) {
      if (n >= below) break;
      if (this.state(n) === COMPLETED_FLAG) count++;
    }
    return count;
  }

  /** A reader for positioned reads; close it when done. */
  reader(): OutputsReader {
    return new OutputsReader(this.file, (n) => this.start(n));
  }

  /** The records in line order (one per line), read from the file at their offsets. */
  async *inOrder(): AsyncGenerator<LineRecord> {
    const reader = this.reader();
    try {
      for (const n of this.numbers()) {
        const rec = reader.get(n);
        if (rec) yield rec;
      }
    } finally {
      reader.close();
    }
  }
}

/** Sorts scanned records by line number; the first record of a line wins. */
function sortLines(
  starts: BlockList<Float64Array>,
  numbers: BlockList<Float64Array>,
  states: BlockList<Uint8Array>,
): SortedLines {
  const count = numbers.length;
  const order = new Uint32Array(count);
  for (let k = 0; k < count; k++) order[k] = k;
  order.sort((a, b) => numbers.get(a) - numbers.get(b) || a - b);
  let distinct = 0;
  for (let i = 0; i < count; i++)
    if (i === 0 || numbers.get(order[i]) !== numbers.get(order[i - 1])) order[distinct++] = order[i];
  const sorted: SortedLines = {
    numbers: new Float64Array(distinct),
    starts: new Float64Array(distinct),
    states: new Uint8Array(distinct),
  };
  for (let i = 0; i < distinct; i++) {
    sorted.numbers[i] = numbers.get(order[i]);
    sorted.starts[i] = starts.get(order[i]);
    sorted.states[i] = states.get(order[i]);
  }
  return sorted;
}

/** Positioned reads of one indexed file through a window buffer (records finished together sit together). */
export class OutputsReader {
  private fd: number | undefined;
  private window = Buffer.alloc(WINDOW);
  private windowStart = 0;
  private windowLength = 0;
  constructor(
    file: string,
    /** Where a line's record starts, or -1. */
    private readonly locate: (lineNumber: number) => number,
  ) {
    this.fd = existsSync(file) ? openSync(file, 'r') : undefined;
  }

  /** The record of a line, or undefined when the run has none. */
  get(lineNumber: number): LineRecord | undefined {
    const start = this.locate(lineNumber);
    if (start < 0) return undefined;
    try {
      return parsePyJson(this.read(start)) as LineRecord;
    } catch {
      return undefined;
    }
  }

  /** The record starting at `start`, up to its newline (or the end of the file). */
  private read(start: number): string {
    if (this.fd === undefined) return '';
    let nl = this.newlineFrom(start);
    if (nl < 0) {
      // Not (wholly) in the window: read from the record's start, growing the window for a record larger than it.
      for (;;) {
        this.windowStart = start;
        this.windowLength = readSync(this.fd, this.window, 0, this.window.length, start);
        nl = this.window.indexOf(0x0a, 0);
        if (nl >= 0 && nl < this.windowLength) break;
        if (this.windowLength < this.window.length) {
          nl = this.windowLength; // the last record, without a newline
          break;
        }
        this.window = Buffer.alloc(this.window.length * 2);
      }
    }
    return this.window.toString('utf8', start - this.windowStart, nl);
  }

  /** The window position of the newline ending the record at `start`, or -1 when the window does not hold it. */
  private newlineFrom(start: number): number {
    const from = start - this.windowStart;
    if (from < 0 || from >= this.windowLength) return -1;
    const nl = this.window.indexOf(0x0a, from);
    return nl >= 0 && nl < this.windowLength ? nl : -1;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

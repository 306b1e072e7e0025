/**
 * The byte layer of the data reader: a data file's bytes cut into physical lines (\n, \r\n or \r), each
 * checked before anything parses it — valid UTF-8, not longer than a limit — so a bad byte or an endless line
 * is an error naming `file:line:column` instead of U+FFFD in a prompt or a process reading 50 MB into memory
 * several times over. A line over the limit fails as soon as the limit is passed, without reading the rest.
 * Hand-written because readline (and split2-style libraries) decode first and buffer a line without bound, so
 * neither the bad byte's position nor a line limit can be had from them; the UTF-8 check itself is Node's
 * native `isUtf8`, the scan for the offending byte runs only after it failed.
 * @module
 */
import { isUtf8 } from 'node:buffer';
import { ConfigError } from '../errors.js';

/** Bounds of what one data line may hold. */
export interface DataLimits {
  /** Longest line, in bytes (default 10 MiB; env LLMOPS_DATA_MAX_LINE_BYTES). */
  maxLineBytes: number;
  /** Deepest nesting of a JSON value (default 100; env LLMOPS_DATA_MAX_DEPTH). */
  maxDepth: number;
}

export const DEFAULT_DATA_LIMITS: Readonly<DataLimits> = { maxLineBytes: 10 * 1024 * 1024, maxDepth: 100 };

/** The limits in force: explicit values, else the environment's, else the defaults. */
export function dataLimits(
  overrides: Partial<DataLimits> = {},
  env: Record<string, string | undefined> = process.env,
): DataLimits {
  const fromEnv = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return fallback;
    const v = Number(raw);
    if (!Number.isInteger(v) || v < 1)
      throw ConfigError.at({ file: name }, `found ${JSON.stringify(raw)}, expected a whole number >= 1`);
    return v;
  };
  return {
    maxLineBytes: overrides.maxLineBytes ?? fromEnv('LLMOPS_DATA_MAX_LINE_BYTES', DEFAULT_DATA_LIMITS.maxLineBytes),
    maxDepth: overrides.maxDepth ?? fromEnv('LLMOPS_DATA_MAX_DEPTH', DEFAULT_DATA_LIMITS.maxDepth),
  };
}

/** Called per line: the bytes are `bytes[start, end)` without the line break; `line` is 1-based. */
export type LineSink = (bytes: Buffer, start: number, end: number, line: number) => void;

const LF = 0x0a;
const CR = 0x0d;

/**
 * Cuts chunks into lines and checks each. Keeps at most one partial line (bounded by the limit) between
 * chunks; a line within one chunk is handed on as a view of that chunk, without a copy.
 */
export class LineSplitter {
  /** Lines handed on so far. */
  line = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The last chunk ended in \r: a \n opening the next one belongs to that break. */
  private afterCr = false;

  constructor(
    private readonly file: string,
    private readonly limits: DataLimits,
    private readonly sink: LineSink,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    if (this.afterCr && chunk.length > 0) {
      this.afterCr = false;
      if (chunk[0] === LF) start = 1;
    }
    const n = chunk.length;
    let lf = chunk.indexOf(LF, start);
    let cr = chunk.indexOf(CR, start);
    while (start < n) {
      if (lf === -1 && cr === -1) break;
      let brk: number;
      let next: number;
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        brk = cr;
        if (cr + 1 < n) next = chunk[cr + 1] === LF ? cr + 2 : cr + 1;
        else {
          next = n;
          this.afterCr = true;
        }
      } else {
        brk = lf;
        next = lf + 1;
      }
      this.complete(chunk, start, brk);
      start = next;
      if (lf !== -1 && lf < start) lf = chunk.indexOf(LF, start);
      if (cr !== -1 && cr < start) cr = chunk.indexOf(CR, start);
    }
    if (start < n) {
      this.pendingBytes += n - start;
      if (this.pendingBytes > this.limits.maxLineBytes) this.tooLong(this.line + 1);
      this.pending.push(start === 0 ? chunk : chunk.subarray(start));
    }
  }

  /** The end of the file: the last line, if it had no line break. */
  end(): void {
    if (this.pending.length > 0) {
      const rest = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
      this.hand(rest, 0, rest.length);
    }
  }

  private complete(chunk: Buffer, start: number, end: number): void {
    if (this.pending.length === 0) {
      this.hand(chunk, start, end);
      return;
    }
    this.pending.push(chunk.subarray(start, end));
    const whole = Buffer.concat(this.pending, this.pendingBytes + end - start);
    this.pending = [];
    this.pendingBytes = 0;
    this.hand(whole, 0, whole.length);
  }

  private hand(bytes: Buffer, start: number, end: number): void {
    const line = ++this.line;
    if (end - start > this.limits.maxLineBytes) this.tooLong(line);
    if (
      line === 1 &&
      end - start >= 3 &&
      bytes[start] === 0xef &&
      bytes[start + 1] === 0xbb &&
      bytes[start + 2] === 0xbf
    )
      start += 3;
    if (!isUtf8(bytes.subarray(start, end))) {
      const bad = firstInvalidUtf8(bytes, start, end);
      const column = bytes.toString('utf8', start, bad).length + 1;
      throw ConfigError.at(
        { file: this.file, line, column },
        `invalid UTF-8: byte ${bad - start + 1} of the line is 0x${bytes[bad].toString(16).padStart(2, '0')}; expected UTF-8 text (re-save the file as UTF-8)`,
      );
    }
    this.sink(bytes, start, end, line);
  }

  private tooLong(line: number): never {
    throw ConfigError.at(
      { file: this.file, line },
      `line is longer than ${this.limits.maxLineBytes} bytes (the limit, LLMOPS_DATA_MAX_LINE_BYTES); expected one record per line within the limit`,
    );
  }
}

/** Whether bytes[start, end) hold only spaces, tabs and form feeds (a blank line is skipped). */
export function isBlank(bytes: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    if (b !== 0x20 && b !== 0x09 && b !== 0x0b && b !== 0x0c) return false;
  }
  return true;
}

/** Index of the first byte that breaks UTF-8 (only called once isUtf8 said there is one). */
export function firstInvalidUtf8(b: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end) {
    const c = b[i];
    let need: number;
    let min: number;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) [need, min] = [1, 0x80];
    else if (c >= 0xe0 && c <= 0xef) [need, min] = [2, 0x800];
    else if (c >= 0xf0 && c <= 0xf4) [need, min] = [3, 0x10000];
    else return i;
    if (i + need >= end) return i; // cut short by the end of the line
    let cp = c & (0xff >> (need + 2));
    for (let k = 1; k <= need; k++) {
      const cc = b[i + k];
      if ((cc & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return end - 1;
}

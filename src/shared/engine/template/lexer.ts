/**
 * Tokenizer for the Jinja2 subset Prompt Flow templates use, with Prompt Flow's environment baked in:
 * `trim_blocks=True` (one newline after `%}` / `#}` is dropped), `keep_trailing_newline=True`,
 * `lstrip_blocks=False`, and `-`/`+` whitespace control (promptflow-formats.md §2.1).
 * Line endings are normalised to `\n` first, as Jinja does.
 * @module
 */
import { normalizeInt } from './py-int.js';
import { TemplateSyntaxError } from './errors.js';
import { PY_WHITESPACE_CLASS, pyRstrip } from './image.js';

export type TokenKind =
  'data' | 'var_begin' | 'var_end' | 'block_begin' | 'block_end' | 'name' | 'string' | 'int' | 'float' | 'op' | 'eof';

/** One token; `pos` is the offset in the normalised source (see `SourceMap`). */
export interface Token {
  kind: TokenKind;
  value: string;
  /** Numeric value of `int`/`float` tokens. */
  num?: number | bigint;
  pos: number;
}

/** Turns offsets of the normalised source into 1-based line/column. */
export class SourceMap {
  private readonly lineStarts: number[] = [0];
  constructor(readonly source: string) {
    for (let i = source.indexOf('\n'); i >= 0; i = source.indexOf('\n', i + 1)) this.lineStarts.push(i + 1);
  }
  locate(pos: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= pos) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: pos - this.lineStarts[lo]! + 1 };
  }
  error(reason: string, pos: number, pyType?: string): TemplateSyntaxError {
    const { line, column } = this.locate(pos);
    return new TemplateSyntaxError(reason, line, column, pyType);
  }
}

const WS = `[${PY_WHITESPACE_CLASS}]`;
const TAG_START = /\{[{%#]/g;
const RAW_BEGIN = new RegExp(`\\{%([-+]?)${WS}*raw${WS}*([-+]?)%\\}`, 'y');
const RAW_END = new RegExp(`\\{%([-+]?)${WS}*endraw${WS}*([-+]?)%\\}`, 'g');
const COMMENT_END = new RegExp(`-#\\}${WS}*|\\+#\\}|#\\}\\n?`, 'g');
const SKIP_WS = new RegExp(`${WS}+`, 'y');
const BLOCK_END = new RegExp(`-%\\}${WS}*|\\+%\\}|%\\}\\n?`, 'y');
const VAR_END = new RegExp(`-\\}\\}${WS}*|\\}\\}`, 'y');
const FLOAT = /(?:\d+_)*\d+(?:(?:\.(?:\d+_)*\d+)?e[+-]?(?:\d+_)*\d+|\.(?:\d+_)*\d+)/iy;
const INT = /0b(?:_?[01])+|0o(?:_?[0-7])+|0x(?:_?[\da-f])+|[1-9](?:_?\d)*|0(?:_?0)*/iy;
const NAME = /[\p{L}_][\p{L}\p{N}_]*/uy;
const STRING = /'([^'\\]*(?:\\.[^'\\]*)*)'|"([^"\\]*(?:\\.[^"\\]*)*)"/sy;
const OPERATOR = /\/\/|\*\*|==|!=|>=|<=|[+\-/*%~[\](){}><=.:|,;]/y;
const CLOSER: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

/** Jinja's newline normalisation: `\r\n` and `\r` become `\n`. */
export function normaliseNewlines(source: string): string {
  return source.includes('\r') ? source.replace(/\r\n?/g, '\n') : source;
}

/** Splits a (normalised) template into tokens. Throws `TemplateSyntaxError` with the position of the problem. */
export function tokenize(source: string, map: SourceMap): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  let pendingData: { value: string; pos: number } | null = null;
  const flushData = (lstrip: boolean): void => {
    if (pendingData === null) return;
    const value = lstrip ? pyRstrip(pendingData.value) : pendingData.value;
    if (value) tokens.push({ kind: 'data', value, pos: pendingData.pos });
    pendingData = null;
  };
  while (pos < source.length) {
    TAG_START.lastIndex = pos;
    const m = TAG_START.exec(source);
    if (!m) {
      pendingData = { value: source.slice(pos), pos };
      break;
    }
    const start = m.index;
    if (start > pos) pendingData = { value: source.slice(pos, start), pos };
    flushData(source[start + 2] === '-');
    const kind = source[start + 1];
    if (kind === '#') {
      COMMENT_END.lastIndex = start + 2;
      const end = COMMENT_END.exec(source);
      if (!end) throw map.error('Missing end of comment tag', start);
      pos = end.index + end[0].length;
      continue;
    }
    if (kind === '%') {
      RAW_BEGIN.lastIndex = start;
      const raw = RAW_BEGIN.exec(source);
      if (raw) {
        pos = lexRaw(source, map, start, raw[0].length, raw[2] === '-', tokens);
        continue;
      }
    }
    pos = lexTag(source, map, start, kind === '{' ? 'var' : 'block', tokens);
  }
  flushData(false);
  tokens.push({ kind: 'eof', value: '', pos: source.length });
  return tokens;
}

function lexRaw(
  source: string,
  map: SourceMap,
  start: number,
  headLength: number,
  stripAfterHead: boolean,
  tokens: Token[],
): number {
  let bodyStart = start + headLength;
  if (stripAfterHead) bodyStart += new RegExp(`^${WS}*`).exec(source.slice(bodyStart))?.[0].length ?? 0;
  else if (source[bodyStart] === '\n') bodyStart += 1;
  RAW_END.lastIndex = bodyStart;
  const end = RAW_END.exec(source);
  if (!end) throw map.error('Missing end of raw directive', start);
  let body = source.slice(bodyStart, end.index);
  if (end[1] === '-') body = pyRstrip(body);
  if (body) tokens.push({ kind: 'data', value: body, pos: bodyStart });
  let after = end.index + end[0].length;
  if (end[2] === '-') after += new RegExp(`^${WS}*`).exec(source.slice(after))?.[0].length ?? 0;
  else if (end[2] !== '+' && source[after] === '\n') after += 1;
  return after;
}

function lexTag(source: string, map: SourceMap, start: number, mode: 'var' | 'block', tokens: Token[]): number {
  tokens.push({ kind: mode === 'var' ? 'var_begin' : 'block_begin', value: '', pos: start });
  let pos = start + 2;
  if (source[pos] === '-' || (mode === 'block' && source[pos] === '+')) pos += 1;
  const balance: string[] = [];
  const endRe = mode === 'var' ? VAR_END : BLOCK_END;
  for (;;) {
    SKIP_WS.lastIndex = pos;
    if (SKIP_WS.test(source)) pos = SKIP_WS.lastIndex;
    if (pos >= source.length) {
      throw map.error(
        `unexpected end of template, expected '${mode === 'var' ? 'end of print statement' : 'end of statement block'}'.`,
        pos,
      );
    }
    if (balance.length === 0) {
      endRe.lastIndex = pos;
      const end = endRe.exec(source);
      if (end) {
        tokens.push({ kind: mode === 'var' ? 'var_end' : 'block_end', value: '', pos });
        return pos + end[0].length;
      }
    }
    const token = lexOne(source, pos);
    if (!token) throw map.error(`unexpected char ${JSON.stringify(source[pos])} at ${pos}`, pos);
    if (token.kind === 'op') {
      const v = token.value;
      if (v === '(' || v === '[' || v === '{') balance.push(CLOSER[v]!);
      else if (v === ')' || v === ']' || v === '}') {
        const expected = balance.pop();
        if (expected === undefined) throw map.error(`unexpected '${v}'`, pos);
        if (expected !== v) throw map.error(`unexpected '${v}', expected '${expected}'`, pos);
      }
    }
    tokens.push(token);
    pos += token.value.length;
  }
}

function lexOne(source: string, pos: number): Token | null {
  for (const [re, kind] of [
    [FLOAT, 'float'],
    [INT, 'int'],
    [NAME, 'name'],
  ] as const) {
    re.lastIndex = pos;
    const m = re.exec(source);
    if (m && !(kind === 'float' && source[pos - 1] === '.')) {
      const text = m[0];
      if (kind === 'name') return { kind, value: text, pos };
      const clean = text.replace(/_/g, '');
      const num = kind === 'float' ? Number(clean) : parseIntLiteral(clean);
      return { kind, value: text, num, pos };
    }
  }
  STRING.lastIndex = pos;
  const s = STRING.exec(source);
  if (s) return { kind: 'string', value: s[0], pos };
  OPERATOR.lastIndex = pos;
  const op = OPERATOR.exec(source);
  if (op) return { kind: 'op', value: op[0], pos };
  return null;
}

function parseIntLiteral(text: string): number | bigint {
  // BigInt reads 0b/0o/0x prefixes itself; a literal beyond 2^53 stays exact.
  return normalizeInt(BigInt(text));
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\n': '',
};

/** The value of a string token: quotes removed, Python `unicode-escape` sequences decoded. */
export function decodeStringToken(token: string): string {
  const body = token.slice(1, -1);
  if (!body.includes('\\')) return body;
  return body.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{1,3}|[\s\S])/g, (all, esc: string) => {
    if (esc in SIMPLE_ESCAPES) return SIMPLE_ESCAPES[esc]!;
    const c = esc[0];
    if (c === 'x' || c === 'u' || c === 'U') return String.fromCodePoint(parseInt(esc.slice(1), 16));
    if (c! >= '0' && c! <= '7') return String.fromCodePoint(parseInt(esc, 8));
    return all;
  });
}

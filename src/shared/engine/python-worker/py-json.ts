/**
 * JSON as Python writes it: the standard grammar plus the bare tokens `NaN`, `Infinity` and
 * `-Infinity` (Python's `json` emits them by default and Prompt Flow run records contain them), and
 * floats that stay floats: Python's `2.0` is read as a `PyFloat` (JavaScript's 2 would print `2`
 * where Python prints `2.0`), and a `PyFloat` is written as `2.0`. `JSON.parse` rejects the tokens
 * and loses the float type, `JSON.stringify` turns the tokens into `null`, so the worker protocol
 * reads and writes through these two functions instead.
 * @module
 */
import { PyFloat, pyFloat, pyFloatRepr } from '../template/py-value.js';

/**
 * A whole number written as a float outside a string could be in the text (`2.0`, `1e3`; a `.0` inside a
 * string only sends the text to the slower exact parser). Non-integral floats (`0.5`) need nothing.
 */
const WHOLE_FLOAT = /\d\.0+(?![\d])|\d[eE][+-]?\d/;

/** Parse Python-flavoured JSON. Plain JSON without whole-number floats takes the native fast path. */
export function parsePyJson(text: string): unknown {
  if (WHOLE_FLOAT.test(text)) return new PyJsonParser(text).parseDocument();
  try {
    return JSON.parse(text);
  } catch (err) {
    if (!/NaN|Infinity/.test(text)) throw err;
    return new PyJsonParser(text).parseDocument();
  }
}

const MARK = '\u0000llmops-number:';

/**
 * Stringify to JSON, writing non-finite numbers as `NaN` / `Infinity` / `-Infinity` tokens and a `PyFloat` as
 * Python writes the float (`2.0`). `indent` as in `JSON.stringify` (files people read, such as metrics.json).
 */
export function stringifyPyJson(value: unknown, indent?: number): string {
  let marked = false;
  const text = JSON.stringify(
    value,
    function (this: Record<string, unknown>, key, v: unknown) {
      if (typeof v !== 'number') return v;
      if (!Number.isFinite(v)) {
        marked = true;
        return MARK + String(v);
      }
      // toJSON already turned a PyFloat into its number; the holder still has the PyFloat.
      if (this[key] instanceof PyFloat) {
        marked = true;
        return MARK + pyFloatRepr(v);
      }
      return v;
    },
    indent,
  );
  if (text === undefined) return 'null';
  if (!marked) return text;
  // JSON.stringify escapes U+0000 as \u0000, so a marked string is exactly "\u0000llmops-number:<v>".
  return text.replace(/"\\u0000llmops-number:(NaN|Infinity|-Infinity|[-+.\deE]+)"/g, '$1');
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WHITESPACE = /[ \t\n\r]*/y;

class PyJsonParser {
  private pos = 0;
  constructor(private readonly text: string) {}

  parseDocument(): unknown {
    const value = this.value();
    this.skip();
    if (this.pos !== this.text.length) this.fail('unexpected trailing text');
    return value;
  }

  private skip(): void {
    WHITESPACE.lastIndex = this.pos;
    WHITESPACE.exec(this.text);
    this.pos = WHITESPACE.lastIndex;
  }

  private fail(what: string): never {
    throw new SyntaxError(`Invalid JSON at position ${this.pos}: ${what}`);
  }

  private literal(word: string, value: unknown): unknown {
    if (!this.text.startsWith(word, this.pos)) this.fail(`expected ${word}`);
    this.pos += word.length;
    return value;
  }

  private value(): unknown {
    this.skip();
    const c = this.text[this.pos];
    switch (c) {
      case '{':
        return this.object();
      case '[':
        return this.array();
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      case 'N':
        return this.literal('NaN', NaN);
      case 'I':
        return this.literal('Infinity', Infinity);
      default:
        if (c === '-' && this.text.startsWith('-Infinity', this.pos)) return this.literal('-Infinity', -Infinity);
        return this.number();
    }
  }

  private number(): number | PyFloat {
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.text);
    if (!m) this.fail('expected a value');
    this.pos = NUMBER.lastIndex;
    const n = Number(m[0]);
    // Python writes a float with '.' or an exponent. JavaScript writes whole numbers from 1e21 up with an
    // exponent too, so those are left plain numbers (the float type of such a value is not kept).
    const exponent = /[eE]/.test(m[0]);
    if (exponent && Math.abs(n) >= 1e21) return n;
    return exponent || m[0].includes('.') ? pyFloat(n) : n;
  }

  private string(): string {
    const start = this.pos;
    let i = start + 1;
    for (;;) {
      const c = this.text.charCodeAt(i);
      if (Number.isNaN(c)) this.fail('unterminated string');
      if (c === 0x5c) i += 2;
      else if (c === 0x22) break;
      else i += 1;
    }
    this.pos = i + 1;
    return JSON.parse(this.text.slice(start, i + 1)) as string;
  }

  private array(): unknown[] {
    this.pos += 1;
    const out: unknown[] = [];
    this.skip();
    if (this.text[this.pos] === ']') {
      this.pos += 1;
      return out;
    }
    for (;;) {
      out.push(this.value());
      this.skip();
      const c = this.text[this.pos++];
      if (c === ']') return out;
      if (c !== ',') this.fail("expected ',' or ']'");
    }
  }

  private object(): Record<string, unknown> {
    this.pos += 1;
    const out: Record<string, unknown> = {};
    this.skip();
    if (this.text[this.pos] === '}') {
      this.pos += 1;
      return out;
    }
    for (;;) {
      this.skip();
      if (this.text[this.pos] !== '"') this.fail('expected a key');
      const key = this.string();
      this.skip();
      if (this.text[this.pos++] !== ':') this.fail("expected ':'");
      Object.defineProperty(out, key, { value: this.value(), enumerable: true, writable: true, configurable: true });
      this.skip();
      const c = this.text[this.pos++];
      if (c === '}') return out;
      if (c !== ',') this.fail("expected ',' or '}'");
    }
  }
}

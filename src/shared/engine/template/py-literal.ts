/**
 * A safe parser for Python literals (the subset of `ast.literal_eval` chat prompts use for `tool_calls:`):
 * lists, tuples, dicts, strings (quotes, triple quotes, escapes, r/u/b prefixes, implicit concatenation),
 * ints, floats, `True`/`False`/`None`, unary signs. Nothing is ever evaluated.
 * @module
 */
import { decodeStringToken } from './lexer.js';
import { pyFloat } from './py-value.js';

class LiteralError extends Error {}

/** Parses `text` as a Python literal; returns `undefined` when it is not one (like `literal_eval` raising). */
export function parsePythonLiteral(text: string): unknown {
  try {
    const p = new LiteralParser(text);
    const value = p.value();
    p.ws();
    if (p.pos !== text.length) throw new LiteralError('trailing text');
    return value;
  } catch (err) {
    if (err instanceof LiteralError || err instanceof RangeError) return undefined;
    throw err;
  }
}

const NUMBER = /(?:0[xX][\da-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE][+-]?\d+)?|\d[\d_]*\.)/y;
const STRING_PREFIX = /([rRuUbB]{0,2})(['"])/y;

class LiteralParser {
  pos = 0;
  constructor(private readonly s: string) {}

  ws(): void {
    // Inside brackets Python ignores newlines and `\`-continuations too.
    while (this.pos < this.s.length) {
      const c = this.s[this.pos]!;
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f') this.pos++;
      else if (c === '\\' && this.s[this.pos + 1] === '\n') this.pos += 2;
      else if (c === '#') while (this.pos < this.s.length && this.s[this.pos] !== '\n') this.pos++;
      else break;
    }
  }

  private eat(c: string): boolean {
    this.ws();
    if (this.s[this.pos] !== c) return false;
    this.pos++;
    return true;
  }

  value(): unknown {
    this.ws();
    const c = this.s[this.pos];
    if (c === '[') return this.sequence(']');
    if (c === '(') return this.sequence(')');
    if (c === '{') return this.dict();
    if (c === '-' || c === '+') {
      this.pos++;
      const v = this.value();
      if (typeof v === 'number') return c === '-' ? -v : v;
      if (v !== null && typeof v === 'object' && 'value' in v && typeof v.value === 'number')
        return pyFloat(c === '-' ? -v.value : v.value);
      throw new LiteralError('bad operand for unary sign');
    }
    STRING_PREFIX.lastIndex = this.pos;
    if (STRING_PREFIX.test(this.s)) return this.strings();
    for (const [word, v] of [
      ['True', true],
      ['False', false],
      ['None', null],
    ] as const) {
      if (this.s.startsWith(word, this.pos) && !/[\w]/.test(this.s[this.pos + word.length] ?? '')) {
        this.pos += word.length;
        return v;
      }
    }
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.s);
    if (m && m[0] !== '') {
      this.pos += m[0].length;
      const t = m[0].replace(/_/g, '');
      if (/^0[xob]/i.test(t)) return Number(t.toLowerCase());
      if (/[.eE]/.test(t)) return pyFloat(Number(t));
      if (/^0\d/.test(t) && !/^0+$/.test(t)) throw new LiteralError('leading zeros');
      return Number(t);
    }
    throw new LiteralError(`unexpected ${c ?? 'end'}`);
  }

  private strings(): string {
    let out = '';
    do {
      STRING_PREFIX.lastIndex = this.pos;
      const m = STRING_PREFIX.exec(this.s)!;
      const raw = /r/i.test(m[1]!);
      this.pos += m[1]!.length;
      const triple = this.s.startsWith(m[2]!.repeat(3), this.pos);
      const quote = triple ? m[2]!.repeat(3) : m[2]!;
      this.pos += quote.length;
      let body = '';
      for (;;) {
        if (this.pos >= this.s.length) throw new LiteralError('unterminated string');
        if (this.s.startsWith(quote, this.pos)) break;
        const c = this.s[this.pos]!;
        if (c === '\n' && !triple) throw new LiteralError('newline in string');
        if (c === '\\') {
          body += this.s.slice(this.pos, this.pos + 2);
          this.pos += 2;
        } else {
          body += c;
          this.pos++;
        }
      }
      this.pos += quote.length;
      out += raw ? body : decodeStringToken(`"${body}"`);
      this.ws();
      STRING_PREFIX.lastIndex = this.pos;
    } while (STRING_PREFIX.test(this.s));
    return out;
  }

  private sequence(close: string): unknown[] {
    this.pos++;
    const items: unknown[] = [];
    while (!this.eat(close)) {
      if (items.length > 0 && !this.eat(',')) throw new LiteralError(`expected , or ${close}`);
      if (this.eat(close)) break;
      items.push(this.value());
    }
    return items;
  }

  private dict(): Record<string, unknown> {
    this.pos++;
    const out: Record<string, unknown> = {};
    let first = true;
    while (!this.eat('}')) {
      if (!first && !this.eat(',')) throw new LiteralError('expected , or }');
      first = false;
      if (this.eat('}')) break;
      const key = this.value();
      if (typeof key === 'object' && key !== null) throw new LiteralError('unhashable key');
      if (!this.eat(':')) throw new LiteralError('expected :');
      out[String(key === null ? 'None' : key === true ? 'True' : key === false ? 'False' : key)] = this.value();
    }
    return out;
  }
}

/**
 * Token cursor shared by the statement and expression parsers, with Jinja's wording for errors.
 * @module
 */
import { decodeStringToken, type SourceMap, type Token } from './lexer.js';

/** Cursor over the token list with Jinja-style "expected …, got …" errors. */
export class TokenStream {
  private index = 0;
  constructor(
    private readonly tokens: Token[],
    readonly map: SourceMap,
  ) {}
  get current(): Token {
    return this.tokens[this.index]!;
  }
  peek(offset = 1): Token {
    return this.tokens[Math.min(this.index + offset, this.tokens.length - 1)]!;
  }
  next(): Token {
    const token = this.current;
    if (token.kind !== 'eof') this.index += 1;
    return token;
  }
  is(kind: Token['kind'], value?: string): boolean {
    const c = this.current;
    return c.kind === kind && (value === undefined || c.value === value);
  }
  isName(value: string): boolean {
    return this.is('name', value);
  }
  skip(kind: Token['kind'], value?: string): boolean {
    if (!this.is(kind, value)) return false;
    this.next();
    return true;
  }
  expect(kind: Token['kind'], value?: string): Token {
    if (this.is(kind, value)) return this.next();
    const wanted = value ?? describeKind(kind);
    throw this.fail(`expected token '${wanted}', got '${describe(this.current)}'`);
  }
  fail(reason: string, at: Token = this.current): Error {
    return this.map.error(reason, at.pos);
  }
  unexpected(at: Token = this.current): Error {
    return this.fail(`unexpected '${describe(at)}'`, at);
  }
}

function describeKind(kind: Token['kind']): string {
  const names: Partial<Record<Token['kind'], string>> = {
    var_end: 'end of print statement',
    block_end: 'end of statement block',
    eof: 'end of template',
    var_begin: 'begin of print statement',
    block_begin: 'begin of statement block',
  };
  return names[kind] ?? kind;
}

/** How Jinja names a token in error messages. */
export function describe(token: Token): string {
  if (token.kind === 'name' || token.kind === 'op' || token.kind === 'int' || token.kind === 'float')
    return token.value;
  if (token.kind === 'string') return decodeStringToken(token.value);
  return describeKind(token.kind);
}

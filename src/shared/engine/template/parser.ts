/**
 * Statement parser: text, `{{ expr }}`, `{% for %}`, `{% if %}`, `{% set %}`. Other Jinja tags (macros,
 * includes, blocks…) are not used by Prompt Flow templates and fail with a positioned syntax error.
 * @module
 */
import type { Expr, Stmt } from './ast.js';
import { SourceMap, normaliseNewlines, tokenize } from './lexer.js';
import { ExprParser, MAX_NESTING } from './parse-expr.js';
import { TokenStream } from './token-stream.js';

/** A parsed template. `source` is the normalised text (line endings `\n`). */
export interface ParsedTemplate {
  body: Stmt[];
  source: string;
  map: SourceMap;
}

/** Parses a template; throws `TemplateSyntaxError` (with 1-based line/column) when it is not valid Jinja. */
export function parseTemplate(rawSource: string): ParsedTemplate {
  const source = normaliseNewlines(rawSource);
  const map = new SourceMap(source);
  const stream = new TokenStream(tokenize(source, map), map);
  const parser = new StatementParser(stream);
  const body = parser.subparse([]);
  if (!stream.is('eof')) throw stream.unexpected();
  return { body, source, map };
}

class StatementParser {
  private readonly expr: ExprParser;
  /** Stack of end tags being looked for, for Jinja's "Jinja was looking for…" messages. */
  private readonly endStack: string[][] = [];
  private readonly tagStack: string[] = [];

  constructor(private readonly s: TokenStream) {
    this.expr = new ExprParser(s);
  }

  /** Parses statements until one of `endTags` (left unconsumed, after its `{%`) or the end of the template. */
  subparse(endTags: string[]): Stmt[] {
    const body: Stmt[] = [];
    if (endTags.length > 0) this.endStack.push(endTags);
    try {
      for (;;) {
        const token = this.s.current;
        if (token.kind === 'eof') {
          if (endTags.length > 0) throw this.unknownOrEnd(null, token);
          return body;
        }
        if (token.kind === 'data') {
          this.s.next();
          body.push({ t: 'text', value: token.value });
        } else if (token.kind === 'var_begin') {
          this.s.next();
          body.push({ t: 'output', expr: this.expr.parseTuple() });
          this.s.expect('var_end');
        } else if (token.kind === 'block_begin') {
          this.s.next();
          const tag = this.s.current;
          if (tag.kind === 'name' && endTags.includes(tag.value)) return body;
          body.push(this.parseStatement());
        } else throw this.s.unexpected();
      }
    } finally {
      if (endTags.length > 0) this.endStack.pop();
    }
  }

  private parseStatement(): Stmt {
    const tag = this.s.current;
    if (tag.kind !== 'name') throw this.s.fail('tag name expected', tag);
    if (!['for', 'if', 'set'].includes(tag.value)) throw this.unknownOrEnd(tag.value, tag);
    if (this.tagStack.length >= MAX_NESTING) throw this.s.fail(`blocks nest more than ${MAX_NESTING} levels deep`, tag);
    this.tagStack.push(tag.value);
    try {
      if (tag.value === 'for') return this.parseFor();
      if (tag.value === 'if') return this.parseIf();
      return this.parseSet();
    } finally {
      this.tagStack.pop();
    }
  }

  private parseFor(): Stmt {
    const pos = this.s.next().pos;
    const target = this.expr.parseAssignTarget();
    this.s.expect('name', 'in');
    const iter = this.expr.parseTuple(false, ['recursive']);
    const filter = this.s.skip('name', 'if') ? this.expr.parseExpression() : undefined;
    if (this.s.skip('name', 'recursive'))
      throw this.s.fail("recursive loops are not supported by llmops' template engine");
    this.s.expect('block_end');
    const body = this.subparse(['endfor', 'else']);
    let orElse: Stmt[] = [];
    if (this.s.next().value === 'else') {
      this.s.expect('block_end');
      orElse = this.subparse(['endfor']);
      this.s.next();
    }
    this.s.expect('block_end');
    return { t: 'for', target, iter, filter, body, orElse, pos };
  }

  private parseIf(): Stmt {
    this.s.next();
    const branches: Array<{ test: Expr; body: Stmt[] }> = [];
    let orElse: Stmt[] = [];
    for (;;) {
      const test = this.expr.parseTuple(false);
      this.s.expect('block_end');
      const body = this.subparse(['elif', 'else', 'endif']);
      branches.push({ test, body });
      const end = this.s.next().value;
      if (end === 'elif') continue;
      if (end === 'else') {
        this.s.expect('block_end');
        orElse = this.subparse(['endif']);
        this.s.next();
      }
      break;
    }
    this.s.expect('block_end');
    return { t: 'if', branches, orElse };
  }

  private parseSet(): Stmt {
    const pos = this.s.next().pos;
    const target = this.expr.parseAssignTarget();
    if (!this.s.skip('op', '='))
      throw this.s.fail("block assignments ('{% set x %}…{% endset %}') are not supported by llmops' template engine");
    const value = this.expr.parseTuple();
    this.s.expect('block_end');
    return { t: 'set', target, value, pos };
  }

  /** Jinja's `fail_unknown_tag` / `fail_eof` message. */
  private unknownOrEnd(name: string | null, at: { pos: number; kind: string; value: string }): Error {
    const expected = this.endStack.flat();
    const parts: string[] = [];
    if (name === null) parts.push('Unexpected end of template.');
    else parts.push(`Encountered unknown tag '${name}'.`);
    if (expected.length > 0) {
      const innermost = this.endStack[this.endStack.length - 1]!;
      const looking = innermost.map((t) => `'${t}'`).join(' or ');
      parts.push(`Jinja was looking for the following tags: ${looking}.`);
      const block = this.tagStack[this.tagStack.length - 1];
      if (block) parts.push(`The innermost block that needs to be closed is '${block}'.`);
    }
    return this.s.map.error(parts.join(' '), at.pos);
  }
}

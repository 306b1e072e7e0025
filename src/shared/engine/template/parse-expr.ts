/**
 * Expression parser: Jinja2's precedence ladder (conditional → or → and → not → comparisons → + - → ~ →
 * * / // % → ** → unary → primary with `.attr`, `[key]`, calls, `|filter` and `is test`).
 * @module
 */
import type { CallArgs, Expr, Target } from './ast.js';
import { decodeStringToken } from './lexer.js';
import type { TokenStream } from './token-stream.js';
import { pyFloat } from './py-value.js';

const COMPARE_OPS = new Set(['==', '!=', '<', '<=', '>', '>=']);

/** Parses expressions from a `TokenStream`. */
/** Deepest nesting of expressions (and, in parser.ts, of blocks) a template may use. */
export const MAX_NESTING = 100;

export class ExprParser {
  constructor(readonly s: TokenStream) {}

  /** `parse_tuple`: comma-separated expressions; more than one (or a trailing comma) make a tuple (a list here). */
  parseTuple(withCondExpr = true, extraEnd: string[] = []): Expr {
    const items: Expr[] = [];
    let sawComma = false;
    for (;;) {
      if (items.length > 0 && !this.s.skip('op', ',')) break;
      if (items.length > 0) sawComma = true;
      if (this.isTupleEnd(extraEnd)) break;
      items.push(withCondExpr ? this.parseExpression() : this.parseOr());
    }
    if (items.length === 1 && !sawComma) return items[0]!;
    if (items.length === 0) throw this.s.unexpected();
    return { t: 'list', items };
  }

  private isTupleEnd(extraEnd: string[]): boolean {
    const c = this.s.current;
    if (c.kind === 'var_end' || c.kind === 'block_end' || c.kind === 'eof') return true;
    if (c.kind === 'op' && c.value === ')') return true;
    return c.kind === 'name' && extraEnd.includes(c.value);
  }

  private depth = 0;

  /** Counts a nesting level: a hostile template must get a positioned error, not a stack overflow. */
  private nest<T>(parse: () => T): T {
    if (++this.depth > MAX_NESTING) {
      this.depth--;
      throw this.s.fail(`expressions nest more than ${MAX_NESTING} levels deep`, this.s.current);
    }
    try {
      return parse();
    } finally {
      this.depth--;
    }
  }

  parseExpression(): Expr {
    return this.nest(() => this.parseExpressionInner());
  }

  private parseExpressionInner(): Expr {
    let expr = this.parseOr();
    while (this.s.skip('name', 'if')) {
      const test = this.parseOr();
      const orElse = this.s.skip('name', 'else') ? this.parseExpression() : undefined;
      expr = { t: 'cond', test, then: expr, orElse };
    }
    return expr;
  }

  parseOr(): Expr {
    let left = this.parseAnd();
    while (this.s.skip('name', 'or')) left = { t: 'or', left, right: this.parseAnd() };
    return left;
  }

  private parseAnd(): Expr {
    let left = this.parseNot();
    while (this.s.skip('name', 'and')) left = { t: 'and', left, right: this.parseNot() };
    return left;
  }

  private parseNot(): Expr {
    if (this.s.skip('name', 'not')) return this.nest(() => ({ t: 'not', operand: this.parseNot() }));
    return this.parseCompare();
  }

  private parseCompare(): Expr {
    const pos = this.s.current.pos;
    const first = this.parseMath1();
    const rest: Array<[string, Expr]> = [];
    for (;;) {
      const c = this.s.current;
      if (c.kind === 'op' && COMPARE_OPS.has(c.value)) {
        this.s.next();
        rest.push([c.value, this.parseMath1()]);
      } else if (this.s.skip('name', 'in')) rest.push(['in', this.parseMath1()]);
      else if (this.s.isName('not') && this.s.peek().kind === 'name' && this.s.peek().value === 'in') {
        this.s.next();
        this.s.next();
        rest.push(['notin', this.parseMath1()]);
      } else break;
    }
    return rest.length === 0 ? first : { t: 'compare', first, rest, pos };
  }

  private parseBinary(ops: string[], operand: () => Expr): Expr {
    let left = operand();
    while (this.s.current.kind === 'op' && ops.includes(this.s.current.value)) {
      const { value: op, pos } = this.s.next();
      left = { t: 'binary', op, left, right: operand(), pos };
    }
    return left;
  }

  private parseMath1(): Expr {
    return this.parseBinary(['+', '-'], () => this.parseConcat());
  }

  private parseConcat(): Expr {
    const parts = [this.parseMath2()];
    while (this.s.skip('op', '~')) parts.push(this.parseMath2());
    return parts.length === 1 ? parts[0]! : { t: 'concat', parts };
  }

  private parseMath2(): Expr {
    return this.parseBinary(['*', '/', '//', '%'], () => this.parsePow());
  }

  private parsePow(): Expr {
    return this.parseBinary(['**'], () => this.parseUnary(true));
  }

  private parseUnary(withFilter: boolean): Expr {
    const c = this.s.current;
    let node: Expr;
    if (c.kind === 'op' && (c.value === '-' || c.value === '+')) {
      this.s.next();
      node = this.nest(() => ({ t: 'unary', op: c.value as '-' | '+', operand: this.parseUnary(false), pos: c.pos }));
    } else node = this.parsePostfix(this.parsePrimary());
    return withFilter ? this.parseFilterExpr(node) : node;
  }

  private parsePrimary(): Expr {
    const token = this.s.current;
    if (token.kind === 'name') {
      this.s.next();
      if (token.value === 'true' || token.value === 'True') return { t: 'const', value: true };
      if (token.value === 'false' || token.value === 'False') return { t: 'const', value: false };
      if (token.value === 'none' || token.value === 'None') return { t: 'const', value: null };
      return { t: 'name', name: token.value, pos: token.pos };
    }
    if (token.kind === 'string') {
      let value = '';
      while (this.s.is('string')) value += decodeStringToken(this.s.next().value);
      return { t: 'const', value };
    }
    if (token.kind === 'int' || token.kind === 'float') {
      this.s.next();
      // A float literal that happens to be integral (`1.0`) must stay a float.
      return { t: 'const', value: token.kind === 'float' ? pyFloat(token.num as number) : token.num };
    }
    if (this.s.skip('op', '(')) {
      const inner = this.parseTuple();
      this.s.expect('op', ')');
      return inner;
    }
    if (this.s.skip('op', '[')) {
      const items: Expr[] = [];
      while (!this.s.is('op', ']')) {
        if (items.length > 0) this.s.expect('op', ',');
        if (this.s.is('op', ']')) break;
        items.push(this.parseExpression());
      }
      this.s.expect('op', ']');
      return { t: 'list', items };
    }
    if (this.s.skip('op', '{')) {
      const entries: Array<[Expr, Expr]> = [];
      while (!this.s.is('op', '}')) {
        if (entries.length > 0) this.s.expect('op', ',');
        if (this.s.is('op', '}')) break;
        const key = this.parseExpression();
        this.s.expect('op', ':');
        entries.push([key, this.parseExpression()]);
      }
      this.s.expect('op', '}');
      return { t: 'dict', entries };
    }
    throw this.s.unexpected();
  }

  private parsePostfix(node: Expr): Expr {
    for (;;) {
      const c = this.s.current;
      if (c.kind !== 'op') return node;
      if (c.value === '.') {
        this.s.next();
        const attr = this.s.next();
        if (attr.kind === 'name') node = { t: 'getattr', obj: node, name: attr.value, pos: attr.pos };
        else if (attr.kind === 'int')
          node = { t: 'getitem', obj: node, key: { t: 'const', value: attr.num }, pos: attr.pos };
        else throw this.s.fail('expected name or number', attr);
      } else if (c.value === '[') {
        this.s.next();
        node = this.parseSubscript(node, c.pos);
        this.s.expect('op', ']');
      } else if (c.value === '(') node = { t: 'call', fn: node, pos: c.pos, ...this.parseCallArgs() };
      else return node;
    }
  }

  private parseSubscript(obj: Expr, pos: number): Expr {
    const parts: Array<Expr | undefined> = [];
    let current: Expr | undefined;
    let isSlice = false;
    while (!this.s.is('op', ']')) {
      if (this.s.skip('op', ':')) {
        isSlice = true;
        parts.push(current);
        current = undefined;
      } else if (current === undefined) current = this.parseExpression();
      else throw this.s.unexpected();
    }
    if (!isSlice) {
      if (current === undefined) throw this.s.unexpected();
      return { t: 'getitem', obj, key: current, pos };
    }
    parts.push(current);
    return { t: 'slice', obj, start: parts[0], stop: parts[1], step: parts[2], pos };
  }

  private parseCallArgs(): CallArgs {
    this.s.expect('op', '(');
    const args: Expr[] = [];
    const kwargs: Array<[string, Expr]> = [];
    while (!this.s.is('op', ')')) {
      if (args.length + kwargs.length > 0) this.s.expect('op', ',');
      if (this.s.is('op', ')')) break;
      if (this.s.is('name') && this.s.peek().kind === 'op' && this.s.peek().value === '=') {
        const key = this.s.next().value;
        this.s.next();
        kwargs.push([key, this.parseExpression()]);
      } else {
        if (kwargs.length > 0)
          throw this.s.fail('Invalid argument syntax: positional argument follows keyword argument');
        args.push(this.parseExpression());
      }
    }
    this.s.expect('op', ')');
    return { args, kwargs };
  }

  private parseFilterExpr(node: Expr): Expr {
    for (;;) {
      if (this.s.is('op', '|')) {
        this.s.next();
        const nameToken = this.s.expect('name');
        let name = nameToken.value;
        while (this.s.skip('op', '.')) name += `.${this.s.expect('name').value}`;
        const call = this.s.is('op', '(') ? this.parseCallArgs() : { args: [], kwargs: [] };
        node = { t: 'filter', name, value: node, pos: nameToken.pos, ...call };
      } else if (this.s.isName('is')) {
        this.s.next();
        const negate = this.s.skip('name', 'not');
        const nameToken = this.s.expect('name');
        let call: CallArgs = { args: [], kwargs: [] };
        const c = this.s.current;
        if (this.s.is('op', '(')) call = this.parseCallArgs();
        else if (
          (c.kind === 'name' ||
            c.kind === 'string' ||
            c.kind === 'int' ||
            c.kind === 'float' ||
            (c.kind === 'op' && '[{'.includes(c.value))) &&
          !(c.kind === 'name' && ['else', 'or', 'and'].includes(c.value))
        ) {
          if (c.kind === 'name' && c.value === 'is') throw this.s.fail('You cannot chain multiple tests with is');
          call = { args: [this.parsePostfix(this.parsePrimary())], kwargs: [] };
        }
        node = { t: 'test', name: nameToken.value, value: node, negate, pos: nameToken.pos, ...call };
      } else if (this.s.is('op', '(')) {
        const pos = this.s.current.pos;
        node = { t: 'call', fn: node, pos, ...this.parseCallArgs() };
      } else return node;
    }
  }

  /** `for`/`set` targets: a name or names separated by commas, optionally parenthesised. */
  parseAssignTarget(): Target {
    const paren = this.s.skip('op', '(');
    const names: string[] = [];
    let sawComma = false;
    do {
      if (names.length > 0) sawComma = true;
      if (paren && this.s.is('op', ')')) break;
      const token = this.s.expect('name');
      if (['true', 'false', 'none', 'True', 'False', 'None'].includes(token.value))
        throw this.s.fail(`can't assign to '${token.value}'`, token);
      names.push(token.value);
    } while (this.s.skip('op', ','));
    if (paren) this.s.expect('op', ')');
    return names.length === 1 && !sawComma && !paren ? { kind: 'name', name: names[0]! } : { kind: 'tuple', names };
  }
}

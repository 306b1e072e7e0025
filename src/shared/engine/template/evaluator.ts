/**
 * Turns a parsed template into a tree of closures once, so rendering a line is only closure calls
 * (compile once, render many: the engine renders one template per dataset line).
 * @module
 */
import type { Expr, Stmt, Target } from './ast.js';
import { charge, checkLength, step } from './budget.js';
import { normalizeInt } from './py-int.js';
import { FILTERS, TESTS } from './filters.js';
import type { SourceMap } from './lexer.js';
import type { PyCallable } from './methods.js';
import { RenderContext, type Output } from './context.js';
import { pyEquals, pyFloat, PyFloat, pyStr, pyTruthy, pyTypeName, toNumber, Undefined } from './py-value.js';
import { binaryOp, compareOp, contains, defined, getAttr, getItem, iterate, raise, sliceValue } from './runtime.js';

export type CompiledExpr = (ctx: RenderContext) => unknown;
export type CompiledStmt = (ctx: RenderContext, out: Output) => void;

/** Compiles statements into one closure. `map` positions compile-time errors (unknown filters or tests). */
export function compileBody(body: Stmt[], map: SourceMap, withLoopVar: boolean): CompiledStmt {
  const c = new Compiler(map, withLoopVar);
  return c.stmts(body);
}

class Compiler {
  constructor(
    private readonly map: SourceMap,
    private readonly withLoopVar: boolean,
  ) {}

  stmts(body: Stmt[]): CompiledStmt {
    const parts = body.map((s) => this.stmt(s));
    if (parts.length === 1) return parts[0]!;
    return (ctx, out) => {
      for (const part of parts) part(ctx, out);
    };
  }

  private stmt(s: Stmt): CompiledStmt {
    switch (s.t) {
      case 'text': {
        const value = s.value;
        return (_ctx, out) => {
          out.text += value;
        };
      }
      case 'output': {
        const expr = this.expr(s.expr);
        return (ctx, out) => {
          out.text += printValue(expr(ctx));
          checkLength(out.text.length);
        };
      }
      case 'if': {
        const branches = s.branches.map((b) => ({ test: this.expr(b.test), body: this.stmts(b.body) }));
        const orElse = this.stmts(s.orElse);
        return (ctx, out) => {
          for (const b of branches) {
            if (pyTruthy(b.test(ctx))) return b.body(ctx, out);
          }
          orElse(ctx, out);
        };
      }
      case 'set': {
        const value = this.expr(s.value);
        const target = s.target;
        return (ctx) => assign(ctx.frames[ctx.frames.length - 1]!, target, value(ctx));
      }
      case 'for':
        return this.forLoop(s);
    }
  }

  private forLoop(s: Extract<Stmt, { t: 'for' }>): CompiledStmt {
    const iter = this.expr(s.iter);
    const filter = s.filter ? this.expr(s.filter) : undefined;
    const body = this.stmts(s.body);
    const orElse = this.stmts(s.orElse);
    const { target } = s;
    const withLoop = this.withLoopVar;
    return (ctx, out) => {
      let items = iterate(iter(ctx));
      const frame = new Map<string, unknown>();
      ctx.frames.push(frame);
      try {
        if (filter) {
          items = items.filter((item) => {
            step();
            assign(frame, target, item);
            return pyTruthy(filter(ctx));
          });
        }
        const n = items.length;
        for (let i = 0; i < n; i++) {
          step();
          assign(frame, target, items[i]);
          if (withLoop) {
            frame.set('loop', {
              index: i + 1,
              index0: i,
              revindex: n - i,
              revindex0: n - i - 1,
              first: i === 0,
              last: i === n - 1,
              length: n,
              previtem: i > 0 ? items[i - 1] : new Undefined('there is no previous item'),
              nextitem: i < n - 1 ? items[i + 1] : new Undefined('there is no next item'),
            });
          }
          body(ctx, out);
        }
      } finally {
        ctx.frames.pop();
      }
      if (items.length === 0) orElse(ctx, out);
    };
  }

  private exprs(list: Expr[]): CompiledExpr[] {
    return list.map((e) => this.expr(e));
  }

  private kwargs(list: Array<[string, Expr]>): (ctx: RenderContext) => Record<string, unknown> {
    const compiled = list.map(([k, e]) => [k, this.expr(e)] as const);
    return (ctx) => {
      const out: Record<string, unknown> = {};
      for (const [k, e] of compiled) out[k] = e(ctx);
      return out;
    };
  }

  expr(e: Expr): CompiledExpr {
    switch (e.t) {
      case 'const': {
        const value = e.value;
        return () => value;
      }
      case 'name': {
        const name = e.name;
        return (ctx) => ctx.lookup(name);
      }
      case 'getattr': {
        const obj = this.expr(e.obj);
        const name = e.name;
        return (ctx) => getAttr(obj(ctx), name);
      }
      case 'getitem': {
        const obj = this.expr(e.obj);
        const key = this.expr(e.key);
        return (ctx) => getItem(obj(ctx), key(ctx));
      }
      case 'slice': {
        const [obj, start, stop, step] = [e.obj, e.start, e.stop, e.step].map((x) =>
          x ? this.expr(x) : () => null,
        ) as CompiledExpr[];
        return (ctx) => sliceValue(obj!(ctx), start!(ctx), stop!(ctx), step!(ctx));
      }
      case 'call': {
        const fn = this.expr(e.fn);
        const args = this.exprs(e.args);
        const kwargs = this.kwargs(e.kwargs);
        return (ctx) =>
          bounded(
            callValue(
              fn(ctx),
              args.map((a) => a(ctx)),
              kwargs(ctx),
            ),
          );
      }
      case 'filter': {
        const filter = Object.hasOwn(FILTERS, e.name) ? FILTERS[e.name]! : undefined;
        if (!filter) throw this.map.error(`No filter named '${e.name}'.`, e.pos, 'TemplateAssertionError');
        const value = this.expr(e.value);
        const args = this.exprs(e.args);
        const kwargs = this.kwargs(e.kwargs);
        return (ctx) => {
          const v = value(ctx);
          // A filter's work grows with its input text (lists are counted where they are iterated).
          if (typeof v === 'string') charge(v.length >> 4);
          return bounded(
            filter(
              v,
              args.map((a) => a(ctx)),
              kwargs(ctx),
            ),
          );
        };
      }
      case 'test': {
        const test = Object.hasOwn(TESTS, e.name) ? TESTS[e.name]! : undefined;
        if (!test) throw this.map.error(`No test named '${e.name}'.`, e.pos, 'TemplateAssertionError');
        const value = this.expr(e.value);
        const args = this.exprs(e.args);
        const negate = e.negate;
        return (ctx) =>
          test(
            value(ctx),
            args.map((a) => a(ctx)),
          ) !== negate;
      }
      case 'binary': {
        const left = this.expr(e.left);
        const right = this.expr(e.right);
        const op = e.op;
        return (ctx) => binaryOp(op, left(ctx), right(ctx));
      }
      case 'unary': {
        const operand = this.expr(e.operand);
        const negative = e.op === '-';
        return (ctx) => {
          const v = defined(operand(ctx));
          if (typeof v === 'bigint') return negative ? normalizeInt(-v) : v;
          if (typeof v === 'boolean' || (typeof v === 'number' && Number.isInteger(v)))
            return negative ? -toNumber(v) || 0 : toNumber(v);
          if (typeof v === 'number') return negative ? -v : v;
          if (v instanceof PyFloat) return pyFloat(negative ? -v.value : v.value);
          return raise('TypeError', `bad operand type for unary ${e.op}: '${pyTypeName(v)}'`);
        };
      }
      case 'not': {
        const operand = this.expr(e.operand);
        return (ctx) => !pyTruthy(operand(ctx));
      }
      case 'and': {
        const left = this.expr(e.left);
        const right = this.expr(e.right);
        return (ctx) => {
          const l = left(ctx);
          return pyTruthy(l) ? right(ctx) : l;
        };
      }
      case 'or': {
        const left = this.expr(e.left);
        const right = this.expr(e.right);
        return (ctx) => {
          const l = left(ctx);
          return pyTruthy(l) ? l : right(ctx);
        };
      }
      case 'compare':
        return this.compare(e);
      case 'cond': {
        const test = this.expr(e.test);
        const then = this.expr(e.then);
        const orElse = e.orElse
          ? this.expr(e.orElse)
          : () => new Undefined('the inline if-expression evaluated to false and no else section was defined.');
        return (ctx) => (pyTruthy(test(ctx)) ? then(ctx) : orElse(ctx));
      }
      case 'list': {
        const items = this.exprs(e.items);
        return (ctx) => items.map((i) => i(ctx));
      }
      case 'dict': {
        const entries = e.entries.map(([k, v]) => [this.expr(k), this.expr(v)] as const);
        return (ctx) => {
          const out: Record<string, unknown> = {};
          for (const [k, v] of entries) out[pyStr(k(ctx))] = v(ctx);
          return out;
        };
      }
      case 'concat': {
        const parts = this.exprs(e.parts);
        return (ctx) => {
          const text = parts.map((p) => pyStr(p(ctx))).join('');
          checkLength(text.length);
          return text;
        };
      }
    }
  }

  private compare(e: Extract<Expr, { t: 'compare' }>): CompiledExpr {
    const first = this.expr(e.first);
    const rest = e.rest.map(([op, x]) => [op, this.expr(x)] as const);
    return (ctx) => {
      let left = first(ctx);
      for (const [op, next] of rest) {
        const right = next(ctx);
        let ok: boolean;
        if (op === '==') ok = pyEquals(left, right);
        else if (op === '!=') ok = !pyEquals(left, right);
        else if (op === 'in') ok = contains(right, left);
        else if (op === 'notin') ok = !contains(right, left);
        else ok = compareOp(op, left, right);
        if (!ok) return false;
        left = right;
      }
      return true;
    };
  }
}

function assign(frame: Map<string, unknown>, target: Target, value: unknown): void {
  if (target.kind === 'name') {
    frame.set(target.name, value);
    return;
  }
  const items = iterate(defined(value));
  const want = target.names.length;
  if (items.length < want) raise('ValueError', `not enough values to unpack (expected ${want}, got ${items.length})`);
  if (items.length > want) raise('ValueError', `too many values to unpack (expected ${want})`);
  target.names.forEach((name, i) => frame.set(name, items[i]));
}

function callValue(fn: unknown, args: unknown[], kwargs: Record<string, unknown>): unknown {
  defined(fn);
  if (typeof fn !== 'function') return raise('TypeError', `'${pyTypeName(fn)}' object is not callable`);
  return (fn as PyCallable)(args, kwargs);
}

/** A filter's or method's result, refused when it is text beyond the output budget (`join`, `replace`…). */
function bounded(v: unknown): unknown {
  if (typeof v === 'string') checkLength(v.length);
  return v;
}

/** What `{{ value }}` prints: Python `str(value)`, empty for Undefined. */
function printValue(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'function') return '<built-in method>';
  return pyStr(v);
}

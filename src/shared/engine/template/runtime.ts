/**
 * Python/Jinja2 semantics of the operations a template performs on values: attribute and item lookup (Jinja's
 * `getattr`/`getitem` fallbacks and Undefined hints), iteration, `in`, arithmetic and ordering — with the
 * exception types and messages Python would produce.
 * @module
 */
import { TemplateEvalError } from './errors.js';
import { ImageValue } from './image.js';
import { boundMethod } from './methods.js';
import { PromptResult } from './prompt-result.js';
import { charge, checkLength } from './budget.js';
import { bigIntOp, toBig } from './py-int.js';
import {
  asString,
  isDict,
  isFloat,
  isNumeric,
  isPyInt,
  objectTypeRepr,
  pyEquals,
  pyFloat,
  pyRepr,
  pyStr,
  pyTypeName,
  toNumber,
  Undefined,
} from './py-value.js';

/** Throws the Python exception `pyType` with `reason`. */
export function raise(pyType: string, reason: string): never {
  throw new TemplateEvalError(pyType, reason);
}

/** Raises Jinja's UndefinedError when the value is Undefined (any use other than print/iterate/test/bool). */
export function defined(v: unknown): unknown {
  if (v instanceof Undefined) raise('UndefinedError', v.hint);
  return v;
}

/** Jinja's Undefined for a missing attribute (`name` is a str) or element of `obj`. */
export function missing(obj: unknown, name: unknown): Undefined {
  const text =
    typeof name === 'string'
      ? `${pyRepr(objectTypeRepr(obj))} has no attribute ${pyRepr(name)}`
      : `${objectTypeRepr(obj)} has no element ${pyRepr(name)}`;
  return new Undefined(text);
}

/** `obj.name`: a Python attribute (a method here) first, then the item `obj['name']`. */
export function getAttr(obj: unknown, name: string): unknown {
  defined(obj);
  const method = boundMethod(obj, name);
  if (method) return method;
  if (isDict(obj) && Object.hasOwn(obj, name) && obj[name] !== undefined) return obj[name];
  return missing(obj, name);
}

/** `obj[key]`: the item first, then — for a string key — the attribute. */
export function getItem(obj: unknown, key: unknown): unknown {
  defined(obj);
  const keyStr = asString(key);
  if (isDict(obj)) {
    if (keyStr !== undefined && Object.hasOwn(obj, keyStr) && obj[keyStr] !== undefined) return obj[keyStr];
  } else if (Array.isArray(obj) || typeof obj === 'string' || obj instanceof PromptResult) {
    if (typeof key === 'number' && Number.isInteger(key)) return indexSequence(obj, key);
    if (typeof key === 'boolean') return indexSequence(obj, key ? 1 : 0);
  }
  if (keyStr !== undefined) {
    const method = boundMethod(obj, keyStr);
    if (method) return method;
  }
  return missing(obj, key);
}

function indexSequence(obj: unknown[] | string | PromptResult, index: number): unknown {
  const seq = Array.isArray(obj) ? obj : codePoints(asString(obj)!);
  const i = index < 0 ? seq.length + index : index;
  return i >= 0 && i < seq.length ? seq[i] : missing(obj, index);
}

/** A string as Python sees it: a sequence of code points. */
export function codePoints(s: string): string[] {
  return /[\uD800-\uDFFF]/.test(s) ? Array.from(s) : s.split('');
}

/** `obj[start:stop:step]` with Python's clamping and negative indices. */
export function sliceValue(obj: unknown, start: unknown, stop: unknown, step: unknown): unknown {
  defined(obj);
  const str = asString(obj);
  const seq: unknown[] | undefined = str !== undefined ? codePoints(str) : Array.isArray(obj) ? obj : undefined;
  if (!seq) raise('TypeError', `'${pyTypeName(obj)}' object is not subscriptable`);
  const toIndex = (v: unknown): number | undefined => {
    if (v === null || v === undefined || v instanceof Undefined) return undefined;
    if (typeof v === 'number' && Number.isInteger(v)) return v;
    if (typeof v === 'boolean') return v ? 1 : 0;
    return raise('TypeError', 'slice indices must be integers or None or have an __index__ method');
  };
  const n = seq.length;
  const st = toIndex(step) ?? 1;
  if (st === 0) raise('ValueError', 'slice step cannot be zero');
  const clamp = (v: number | undefined, dflt: number, lo: number, hi: number): number => {
    if (v === undefined) return dflt;
    const x = v < 0 ? v + n : v;
    return Math.min(Math.max(x, lo), hi);
  };
  const out: unknown[] = [];
  if (st > 0)
    for (let i = clamp(toIndex(start), 0, 0, n), end = clamp(toIndex(stop), n, 0, n); i < end; i += st)
      out.push(seq[i]);
  else
    for (let i = clamp(toIndex(start), n - 1, -1, n - 1), end = clamp(toIndex(stop), -1, -1, n - 1); i > end; i += st)
      out.push(seq[i]);
  return str !== undefined ? out.join('') : out;
}

/** Python iteration: list items, dict keys, string characters; Undefined iterates nothing. */
export function iterate(v: unknown): unknown[] {
  if (v instanceof Undefined || v === undefined) return [];
  let items: unknown[];
  if (Array.isArray(v)) items = v;
  else if (asString(v) !== undefined) items = codePoints(asString(v)!);
  else if (isDict(v)) items = Object.keys(v);
  else if (v instanceof ImageValue) items = Array.from(v.bytes);
  else return raise('TypeError', `'${pyTypeName(v)}' object is not iterable`);
  // Whoever iterates handles every item (a loop, join, sum, list…): that is work the budget counts.
  charge(items.length);
  return items;
}

/** Python `len()`; Undefined has length 0. */
export function pyLen(v: unknown): number {
  if (v instanceof Undefined) return 0;
  if (Array.isArray(v)) return v.length;
  const str = asString(v);
  if (str !== undefined) return codePoints(str).length;
  if (isDict(v)) return Object.keys(v).length;
  if (v instanceof ImageValue) return v.bytes.length;
  return raise('TypeError', `object of type '${pyTypeName(v)}' has no len()`);
}

/** `item in container`. */
export function contains(container: unknown, item: unknown): boolean {
  if (container instanceof Undefined) return false;
  const str = asString(container);
  if (str !== undefined) {
    charge(str.length >> 4);
    const needle = asString(item);
    if (needle === undefined)
      raise('TypeError', `'in <string>' requires string as left operand, not ${pyTypeName(item)}`);
    return str.includes(needle);
  }
  if (isDict(container)) {
    if (Array.isArray(item) || isDict(item)) raise('TypeError', `unhashable type: '${pyTypeName(item)}'`);
    const key = asString(item);
    return key !== undefined && Object.hasOwn(container, key);
  }
  if (Array.isArray(container)) {
    charge(container.length);
    return container.some((x) => pyEquals(x, item));
  }
  return raise('TypeError', `argument of type '${pyTypeName(container)}' is not iterable`);
}

function num(n: number, float: boolean): unknown {
  return float ? pyFloat(n) : n;
}

function unsupported(op: string, a: unknown, b: unknown): never {
  return raise('TypeError', `unsupported operand type(s) for ${op}: '${pyTypeName(a)}' and '${pyTypeName(b)}'`);
}

function repeat(seq: unknown, times: unknown): unknown {
  if (typeof times === 'bigint' && (times > 2n ** 63n - 1n || times < -(2n ** 63n)))
    raise('OverflowError', "cannot fit 'int' into an index-sized integer");
  const n = typeof times === 'boolean' ? Number(times) : Number(times as number | bigint);
  const str = asString(seq);
  if (str !== undefined) {
    if (n <= 0 || str.length === 0) return '';
    checkLength(str.length * n);
    return str.repeat(n);
  }
  if (n <= 0 || (seq as unknown[]).length === 0) return [];
  charge((seq as unknown[]).length * n);
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) out.push(...(seq as unknown[]));
  return out;
}

/** An int operation on safe integers when its result is certainly exact, else undefined. */
function intFastPath(op: string, x: number, y: number): number | undefined {
  if (!Number.isSafeInteger(x) || !Number.isSafeInteger(y)) return undefined;
  let r: number;
  switch (op) {
    case '+':
      r = x + y;
      break;
    case '-':
      r = x - y;
      break;
    case '*':
      r = x * y;
      break;
    case '//':
    case '%':
      // Float division is exact enough to floor only for small operands; zero goes to the error path.
      if (y === 0 || Math.abs(x) >= 2 ** 31 || Math.abs(y) >= 2 ** 31) return undefined;
      return op === '//' ? Math.floor(x / y) : pyMod(x, y);
    case '**':
      if (y < 0) return undefined;
      r = x ** y;
      // Math.pow is not exact beyond 2^31 on every input: the bigint path computes those.
      return Math.abs(r) < 2 ** 31 ? r : undefined;
    default:
      return undefined;
  }
  return Number.isSafeInteger(r) ? r : undefined;
}

function pyMod(x: number, y: number): number {
  const r = x % y;
  return r !== 0 && r < 0 !== y < 0 ? r + y : r;
}

/** A binary arithmetic operator (`+ - * / // % **`) with Python's types and errors. */
export function binaryOp(op: string, a: unknown, b: unknown): unknown {
  defined(a);
  defined(b);
  if (isNumeric(a) && isNumeric(b)) {
    const float = isFloat(a) || isFloat(b);
    if (!float && op !== '/') {
      // Python ints are unbounded: leave safe integers for bigints when a result (or an operand) is beyond 2^53.
      if (typeof a === 'bigint' || typeof b === 'bigint') return bigIntOp(op, toBig(a), toBig(b));
      const r = intFastPath(op, toNumber(a), toNumber(b));
      if (r !== undefined) return r;
      if (!(op === '**' && toNumber(b) < 0)) return bigIntOp(op, toBig(a), toBig(b));
    }
    const x = toNumber(a);
    const y = toNumber(b);
    switch (op) {
      case '+':
        return num(x + y, float);
      case '-':
        return num(x - y, float);
      case '*':
        return num(x * y, float);
      case '/':
        if (y === 0) raise('ZeroDivisionError', 'division by zero');
        return pyFloat(x / y);
      case '//':
        if (y === 0)
          raise('ZeroDivisionError', float ? 'float floor division by zero' : 'integer division or modulo by zero');
        return num(Math.floor(x / y), float);
      case '%': {
        if (y === 0) raise('ZeroDivisionError', float ? 'float modulo' : 'integer modulo by zero');
        const r = x % y;
        return num(r !== 0 && r < 0 !== y < 0 ? r + y : r, float);
      }
      case '**':
        if (x === 0 && y < 0) raise('ZeroDivisionError', '0.0 cannot be raised to a negative power');
        return num(x ** y, float || y < 0);
    }
  }
  const sa = asString(a);
  const sb = asString(b);
  if (op === '+') {
    if (sa !== undefined) {
      if (sb === undefined) raise('TypeError', `can only concatenate str (not "${pyTypeName(b)}") to str`);
      checkLength(sa.length + sb.length);
      return sa + sb;
    }
    if (Array.isArray(a)) {
      if (!Array.isArray(b)) raise('TypeError', `can only concatenate list (not "${pyTypeName(b)}") to list`);
      charge(a.length + b.length);
      return [...a, ...b];
    }
  }
  if (op === '*') {
    if ((sa !== undefined || Array.isArray(a)) && isPyInt(b)) return repeat(a, b);
    if ((sb !== undefined || Array.isArray(b)) && isPyInt(a)) return repeat(b, a);
    if (sa !== undefined || Array.isArray(a))
      raise('TypeError', `can't multiply sequence by non-int of type '${pyTypeName(b)}'`);
  }
  if (op === '%' && sa !== undefined) return percentFormat(sa, b);
  return unsupported(op, a, b);
}

/** Python `<`, `<=`, `>`, `>=` between numbers, strings or lists. */
export function compareOp(op: string, a: unknown, b: unknown): boolean {
  defined(a);
  defined(b);
  const c = order(op, a, b);
  switch (op) {
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    default:
      return c >= 0;
  }
}

function order(op: string, a: unknown, b: unknown): number {
  if (isNumeric(a) && isNumeric(b)) {
    if ((typeof a === 'bigint' || typeof b === 'bigint') && isPyInt(a) && isPyInt(b)) {
      const d = toBig(a) - toBig(b);
      return d < 0n ? -1 : d > 0n ? 1 : 0;
    }
    const x = typeof a === 'bigint' ? Number(a) : toNumber(a);
    const y = typeof b === 'bigint' ? Number(b) : toNumber(b);
    return x < y ? -1 : x > y ? 1 : x === y ? 0 : NaN;
  }
  const sa = asString(a);
  const sb = asString(b);
  if (sa !== undefined && sb !== undefined) return sa < sb ? -1 : sa > sb ? 1 : 0;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      if (!pyEquals(a[i], b[i])) return order(op, a[i], b[i]);
    }
    return a.length - b.length;
  }
  return raise('TypeError', `'${op}' not supported between instances of '${pyTypeName(a)}' and '${pyTypeName(b)}'`);
}

/** `"fmt" % value` for the common `%s %r %d %i %f %%` conversions. */
function percentFormat(fmt: string, args: unknown): string {
  // Tuples are lists here: several conversions take a list's items, a single one takes the value itself.
  const conversions = (fmt.match(/%(?:\.\d+)?[srdif]/g) ?? []).length;
  const list = Array.isArray(args) && conversions !== 1 ? args : [args];
  let i = 0;
  const out = fmt.replace(/%(?:\.(\d+))?([srdif%])/g, (_m, precision: string | undefined, conv: string) => {
    if (conv === '%') return '%';
    if (i >= list.length) raise('TypeError', 'not enough arguments for format string');
    const v = list[i++];
    if (conv === 's') return pyStr(v);
    if (conv === 'r') return pyRepr(v);
    if (!isNumeric(v)) raise('TypeError', `%${conv} format: a real number is required, not ${pyTypeName(v)}`);
    if (typeof v === 'bigint' && conv !== 'f') return v.toString();
    const n = toNumber(v);
    return conv === 'f' ? n.toFixed(precision === undefined ? 6 : Number(precision)) : String(Math.trunc(n));
  });
  if (i < list.length) raise('TypeError', 'not all arguments converted during string formatting');
  return out;
}

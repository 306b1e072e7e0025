/**
 * Jinja2's built-in filters and tests that Prompt Flow templates use, with Jinja's Python behaviour
 * (e.g. `round` returns a float, `int('3.7')` is 3, `tojson` sorts keys and HTML-escapes `<>&'`).
 * @module
 */
import { checkLength } from './budget.js';
import { TemplateEvalError } from './errors.js';
import { pyStrip } from './image.js';
import { pyJsonDumps } from './py-json.js';
import {
  asString,
  isDict,
  isFloat,
  isNumeric,
  pyEquals,
  pyFloat,
  PyFloat,
  pyStr,
  pyTruthy,
  toNumber,
  Undefined,
} from './py-value.js';
import { codePoints, compareOp, contains, defined, getItem, iterate, pyLen } from './runtime.js';

/** A filter: the value, then the call's positional and keyword arguments. */
export type Filter = (value: unknown, args: unknown[], kwargs: Record<string, unknown>) => unknown;

const arg = (args: unknown[], kwargs: Record<string, unknown>, i: number, name: string, dflt: unknown): unknown =>
  args.length > i ? args[i] : Object.hasOwn(kwargs, name) ? kwargs[name] : dflt;

const PY_INT = /^[+-]?\d(?:_?\d)*$/;
// One digit run before the point: two adjacent ones would backtrack quadratically on a long non-number.
const PY_FLOAT =
  /^[+-]?(?:(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?|inf|infinity|nan)$/i;

/** Python `float(x)`, or undefined where Python raises TypeError/ValueError. */
function toPyFloat(v: unknown): number | undefined {
  if (isNumeric(v)) return toNumber(v);
  const s = asString(v);
  if (s === undefined) return undefined;
  const t = pyStrip(s).replace(/_/g, '');
  if (!PY_FLOAT.test(pyStrip(s))) return undefined;
  const lower = t.toLowerCase().replace(/^[+-]/, '');
  const sign = t.startsWith('-') ? -1 : 1;
  if (lower === 'nan') return NaN;
  if (lower === 'inf' || lower === 'infinity') return sign * Infinity;
  return Number(t);
}

/** Python `round(x, n)` for a float: correctly rounded, ties to even on the exact binary value. */
export function pyRound(x: number, n: number): number {
  if (!Number.isFinite(x) || x === 0 || Math.abs(x) >= 1e21) return x;
  if (n < 0) {
    const scale = 10 ** -n;
    return pyRound(x / scale, 0) * scale;
  }
  if (n > 100) return x;
  const [ip, fp = ''] = Math.abs(x).toFixed(100).split('.') as [string, string?];
  const tail = fp.slice(n);
  let digits: bigint;
  if (tail[0] === '5' && /^0*$/.test(tail.slice(1))) {
    digits = BigInt(ip + fp.slice(0, n));
    if (digits % 2n === 1n) digits += 1n;
  } else {
    const fixed = Math.abs(x).toFixed(n);
    digits = BigInt(fixed.replace('.', ''));
  }
  const text = digits.toString().padStart(n + 1, '0');
  const value = Number(n === 0 ? text : `${text.slice(0, -n)}.${text.slice(-n)}`);
  return x < 0 ? -value : value;
}

function doRound(value: unknown, args: unknown[], kwargs: Record<string, unknown>): unknown {
  const precision = toNumber(arg(args, kwargs, 0, 'precision', 0));
  const method = arg(args, kwargs, 1, 'method', 'common');
  defined(value);
  if (!isNumeric(value))
    throw new TemplateEvalError(
      'TypeError',
      `type ${typeof value === 'string' ? 'str' : 'object'} doesn't define __round__ method`,
    );
  if (typeof value === 'bigint' && method === 'common') return value;
  const x = toNumber(value);
  if (method === 'common')
    return isFloat(value) ? pyFloat(pyRound(x, precision)) : typeof value === 'boolean' ? Number(value) : x;
  if (method !== 'ceil' && method !== 'floor')
    throw new TemplateEvalError('FilterArgumentError', 'method must be common, ceil or floor');
  const scale = 10 ** precision;
  return pyFloat((method === 'ceil' ? Math.ceil(x * scale) : Math.floor(x * scale)) / scale);
}

function doInt(value: unknown, args: unknown[], kwargs: Record<string, unknown>): unknown {
  const dflt = arg(args, kwargs, 0, 'default', 0);
  const base = toNumber(arg(args, kwargs, 1, 'base', 10));
  defined(value);
  const s = asString(value);
  if (s !== undefined) {
    const t = pyStrip(s);
    if (base === 10 && PY_INT.test(t)) return Number(t.replace(/_/g, ''));
    if (base !== 10 && t !== '' && !Number.isNaN(parseInt(t, base))) return parseInt(t, base);
  } else if (typeof value === 'bigint') return value;
  else if (isNumeric(value)) return Number.isFinite(toNumber(value)) ? Math.trunc(toNumber(value)) : dflt;
  const f = toPyFloat(value);
  return f !== undefined && Number.isFinite(f) ? Math.trunc(f) : dflt;
}

function doFloat(value: unknown, args: unknown[], kwargs: Record<string, unknown>): unknown {
  defined(value);
  const f = toPyFloat(value);
  return f === undefined ? arg(args, kwargs, 0, 'default', new PyFloat(0)) : pyFloat(f);
}

function first(value: unknown, end: 'first' | 'last'): unknown {
  const items = iterate(value);
  if (items.length === 0) return new Undefined(`No ${end} item, sequence was empty.`);
  return end === 'first' ? items[0] : items[items.length - 1];
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' };

/** The filters, by name. */
export const FILTERS: Record<string, Filter> = {
  join: (value, args, kwargs) => {
    const sep = pyStr(arg(args, kwargs, 0, 'd', ''));
    const attribute = arg(args, kwargs, 1, 'attribute', null);
    let items = iterate(value);
    if (attribute !== null) items = items.map((x) => getItem(x, attribute));
    return items.map(pyStr).join(sep);
  },
  length: (value) => pyLen(value),
  count: (value) => pyLen(value),
  lower: (value) => pyStr(value).toLowerCase(),
  upper: (value) => pyStr(value).toUpperCase(),
  capitalize: (value) => {
    const s = pyStr(value);
    return s ? s[0]!.toUpperCase() + s.slice(1).toLowerCase() : s;
  },
  title: (value) => pyStr(value).replace(/[\p{L}\p{N}']+/gu, (w) => w[0]!.toUpperCase() + w.slice(1).toLowerCase()),
  trim: (value, args, kwargs) => {
    const chars = arg(args, kwargs, 0, 'chars', null);
    const s = pyStr(value);
    if (chars === null) return pyStrip(s);
    const set = new Set(pyStr(chars));
    const cps = codePoints(s);
    let a = 0;
    let b = cps.length;
    while (a < b && set.has(cps[a]!)) a++;
    while (b > a && set.has(cps[b - 1]!)) b--;
    return cps.slice(a, b).join('');
  },
  default: (value, args, kwargs) => {
    const dflt = arg(args, kwargs, 0, 'default_value', '');
    const boolean = pyTruthy(arg(args, kwargs, 1, 'boolean', false));
    return value instanceof Undefined || (boolean && !pyTruthy(value)) ? dflt : value;
  },
  tojson: (value, args, kwargs) => {
    const indent = arg(args, kwargs, 0, 'indent', null);
    const json = pyJsonDumps(value, { sortKeys: true, indent: indent === null ? undefined : toNumber(indent) });
    return json.replace(/[<>&']/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  },
  replace: (value, args, kwargs) => {
    const old = pyStr(arg(args, kwargs, 0, 'old', ''));
    const replacement = pyStr(arg(args, kwargs, 1, 'new', ''));
    const count = arg(args, kwargs, 2, 'count', null);
    const s = pyStr(value);
    const parts = old === '' ? codePoints(s) : s.split(old);
    checkLength(s.length + (parts.length + 1) * Math.max(0, replacement.length - old.length));
    if (count === null || toNumber(count) < 0)
      return old === '' ? parts.join(replacement).replace(/^|$/g, replacement) : parts.join(replacement);
    const n = toNumber(count);
    return parts.slice(0, n + 1).join(replacement) + (parts.length > n + 1 ? old + parts.slice(n + 1).join(old) : '');
  },
  round: doRound,
  int: doInt,
  float: doFloat,
  string: (value) => pyStr(value),
  safe: (value) => pyStr(value),
  escape: (value) => pyStr(value).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!),
  list: (value) => [...iterate(value)],
  first: (value) => first(value, 'first'),
  last: (value) => first(value, 'last'),
  reverse: (value) => {
    const s = asString(value);
    return s !== undefined ? codePoints(s).reverse().join('') : [...iterate(value)].reverse();
  },
  abs: (value) => {
    defined(value);
    if (!isNumeric(value)) throw new TemplateEvalError('TypeError', 'bad operand type for abs()');
    if (typeof value === 'bigint') return value < 0n ? -value : value;
    return isFloat(value) ? pyFloat(Math.abs(toNumber(value))) : Math.abs(toNumber(value));
  },
  items: (value) =>
    value instanceof Undefined ? [] : isDict(value) ? Object.keys(value).map((k) => [k, value[k]]) : [],
  sum: (value, args, kwargs) => {
    const start = arg(args, kwargs, 1, 'start', 0);
    let total = toNumber(start);
    let float = isFloat(start);
    for (const x of iterate(value)) {
      total += toNumber(defined(x));
      float ||= isFloat(x);
    }
    return float ? pyFloat(total) : total;
  },
};
FILTERS.d = FILTERS.default!;
FILTERS.e = FILTERS.escape!;

/** A test (`x is defined`, `x is none`…): the value, then the test's arguments. */
export type Test = (value: unknown, args: unknown[]) => boolean;

/** The tests, by name. */
export const TESTS: Record<string, Test> = {
  defined: (v) => !(v instanceof Undefined),
  undefined: (v) => v instanceof Undefined,
  none: (v) => v === null,
  boolean: (v) => typeof v === 'boolean',
  true: (v) => v === true,
  false: (v) => v === false,
  string: (v) => asString(v) !== undefined,
  number: (v) => isNumeric(v),
  integer: (v) => (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint',
  float: (v) => isFloat(v),
  mapping: (v) => isDict(v),
  sequence: (v) => Array.isArray(v) || asString(v) !== undefined || isDict(v),
  iterable: (v) => Array.isArray(v) || asString(v) !== undefined || isDict(v) || v instanceof Undefined,
  even: (v) => toNumber(defined(v)) % 2 === 0,
  odd: (v) => Math.abs(toNumber(defined(v)) % 2) === 1,
  divisibleby: (v, [n]) => toNumber(defined(v)) % toNumber(n) === 0,
  lower: (v) => pyStr(v) === pyStr(v).toLowerCase(),
  upper: (v) => pyStr(v) === pyStr(v).toUpperCase(),
  in: (v, [seq]) => contains(seq, v),
  eq: (v, [o]) => pyEquals(v, o),
  ne: (v, [o]) => !pyEquals(v, o),
  lt: (v, [o]) => compareOp('<', v, o),
  le: (v, [o]) => compareOp('<=', v, o),
  gt: (v, [o]) => compareOp('>', v, o),
  ge: (v, [o]) => compareOp('>=', v, o),
};
TESTS['=='] = TESTS.eq!;
TESTS['!='] = TESTS.ne!;
TESTS.equalto = TESTS.eq!;

/**
 * The Python methods templates call on values (`d.items()`, `s.strip()`, `s.split(',')`…). The sandboxed Jinja
 * environment Prompt Flow uses allows these; anything else is an undefined attribute.
 * @module
 */
import { charge, checkLength } from './budget.js';
import { TemplateEvalError } from './errors.js';
import { pyStrip, PY_WHITESPACE_CLASS } from './image.js';
import { PromptResult } from './prompt-result.js';
import { asString, isDict, pyEquals, pyStr, pyTypeName } from './py-value.js';

/** A callable value inside a template: positional and keyword arguments, Python-style. */
export type PyCallable = (args: unknown[], kwargs: Record<string, unknown>) => unknown;

type Method<T> = (self: T, args: unknown[], kwargs: Record<string, unknown>) => unknown;

const WS_RUN = new RegExp(`[${PY_WHITESPACE_CLASS}]+`);

function fail(reason: string): never {
  throw new TemplateEvalError('TypeError', reason);
}

function strArg(name: string, v: unknown): string {
  const s = asString(v);
  return s !== undefined ? s : fail(`${name}() argument must be str, not ${pyTypeName(v)}`);
}

function stripChars(s: string, chars: unknown, side: 'both' | 'left' | 'right'): string {
  if (chars === undefined || chars === null) {
    if (side === 'both') return pyStrip(s);
    const re = new RegExp(side === 'left' ? `^[${PY_WHITESPACE_CLASS}]+` : `[${PY_WHITESPACE_CLASS}]+$`);
    return s.replace(re, '');
  }
  const set = new Set(strArg('strip', chars));
  const cps = Array.from(s);
  let a = 0;
  let b = cps.length;
  if (side !== 'right') while (a < b && set.has(cps[a]!)) a++;
  if (side !== 'left') while (b > a && set.has(cps[b - 1]!)) b--;
  return cps.slice(a, b).join('');
}

function split(s: string, sep: unknown, maxsplit: unknown): string[] {
  const limit = typeof maxsplit === 'number' && maxsplit >= 0 ? maxsplit : Infinity;
  if (sep === undefined || sep === null) {
    const parts: string[] = [];
    let rest = s.replace(new RegExp(`^[${PY_WHITESPACE_CLASS}]+`), '');
    while (rest !== '') {
      if (parts.length === limit) {
        parts.push(rest);
        break;
      }
      const m = WS_RUN.exec(rest);
      if (!m) {
        parts.push(rest);
        break;
      }
      parts.push(rest.slice(0, m.index));
      rest = rest.slice(m.index + m[0].length);
    }
    return parts;
  }
  const separator = strArg('split', sep);
  if (separator === '') throw new TemplateEvalError('ValueError', 'empty separator');
  const all = s.split(separator);
  return all.length - 1 <= limit ? all : [...all.slice(0, limit), all.slice(limit).join(separator)];
}

const STR_METHODS: Record<string, Method<string>> = {
  upper: (s) => s.toUpperCase(),
  lower: (s) => s.toLowerCase(),
  strip: (s, [chars]) => stripChars(s, chars, 'both'),
  lstrip: (s, [chars]) => stripChars(s, chars, 'left'),
  rstrip: (s, [chars]) => stripChars(s, chars, 'right'),
  split: (s, [sep, maxsplit], kw) => split(s, sep ?? kw.sep, maxsplit ?? kw.maxsplit),
  splitlines: (s) => (s === '' ? [] : s.replace(/(\r\n|\r|\n)$/, '').split(/\r\n|\r|\n/)),
  replace: (s, [a, b, count]) => {
    const from = strArg('replace', a);
    const to = strArg('replace', b);
    const parts = s.split(from);
    // Refuse a result beyond the output budget before building it (a replace can multiply the length).
    checkLength(s.length + (parts.length - 1) * Math.max(0, to.length - from.length));
    if (typeof count !== 'number' || count < 0) return parts.join(to);
    return (
      parts.slice(0, count + 1).join(to) + (parts.length > count + 1 ? from + parts.slice(count + 1).join(from) : '')
    );
  },
  startswith: (s, [prefix]) => s.startsWith(strArg('startswith', prefix)),
  endswith: (s, [suffix]) => s.endsWith(strArg('endswith', suffix)),
  find: (s, [sub]) => s.indexOf(strArg('find', sub)),
  count: (s, [sub]) => s.split(strArg('count', sub)).length - 1,
  join: (s, [items]) =>
    (Array.isArray(items) ? items : fail('can only join an iterable')).map((x) => strArg('join', x)).join(s),
  title: (s) => s.toLowerCase().replace(/(^|[^\p{L}])(\p{L})/gu, (_m, pre: string, c: string) => pre + c.toUpperCase()),
  capitalize: (s) => (s ? s[0]!.toUpperCase() + s.slice(1).toLowerCase() : s),
  isdigit: (s) => /^\p{Nd}+$/u.test(s),
};

const DICT_METHODS: Record<string, Method<Record<string, unknown>>> = {
  items: (d) => Object.keys(d).map((k) => [k, d[k]]),
  keys: (d) => Object.keys(d),
  values: (d) => Object.values(d),
  get: (d, [key, dflt]) => {
    const k = asString(key);
    return k !== undefined && Object.hasOwn(d, k) && d[k] !== undefined ? d[k] : dflt === undefined ? null : dflt;
  },
};

const LIST_METHODS: Record<string, Method<unknown[]>> = {
  index: (l, [x]) => {
    const i = l.findIndex((y) => pyEquals(x, y));
    if (i < 0) throw new TemplateEvalError('ValueError', `${pyStr(x)} is not in list`);
    return i;
  },
  count: (l, [x]) => l.filter((y) => pyEquals(x, y)).length,
};

/** The method `name` of `obj` bound to it, or undefined when Python has no such (safe) method. */
export function boundMethod(obj: unknown, name: string): PyCallable | undefined {
  if (typeof obj === 'string' || obj instanceof PromptResult) {
    const m = Object.hasOwn(STR_METHODS, name) ? STR_METHODS[name] : undefined;
    const s = String(obj);
    // A method's work grows with its receiver: counted against the render's step budget (one step per 16 chars).
    return m
      ? (args, kwargs) => {
          charge(s.length >> 4);
          return m(s, args, kwargs);
        }
      : undefined;
  }
  if (isDict(obj)) {
    const m = Object.hasOwn(DICT_METHODS, name) ? DICT_METHODS[name] : undefined;
    return m
      ? (args, kwargs) => {
          charge(Object.keys(obj).length);
          return m(obj, args, kwargs);
        }
      : undefined;
  }
  if (Array.isArray(obj)) {
    const m = Object.hasOwn(LIST_METHODS, name) ? LIST_METHODS[name] : undefined;
    return m
      ? (args, kwargs) => {
          charge(obj.length);
          return m(obj, args, kwargs);
        }
      : undefined;
  }
  return undefined;
}

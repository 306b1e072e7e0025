/**
 * Python `json.dumps` (default `ensure_ascii=True`, `", "`/`": "` separators, floats as `repr`, `NaN`/`Infinity`),
 * as used by Jinja's `tojson` filter.
 * @module
 */
import { bigIntRepr } from './py-int.js';
import { TemplateEvalError } from './errors.js';
import { PromptResult } from './prompt-result.js';
import { isDict, pyFloatRepr, PyFloat, pyTypeName } from './py-value.js';

export interface PyJsonOptions {
  sortKeys?: boolean;
  /** Python's `indent`: a number of spaces (then item separator is `","`) or undefined for one line. */
  indent?: number;
  ensureAscii?: boolean;
}

/** Python `json.dumps(value, sort_keys=…, indent=…, ensure_ascii=…)`. Throws TypeError for values JSON cannot hold. */
export function pyJsonDumps(value: unknown, options: PyJsonOptions = {}): string {
  const { sortKeys = false, indent, ensureAscii = true } = options;
  const itemSep = indent === undefined ? ', ' : ',';
  const encode = (v: unknown, depth: number): string => {
    if (v === null) return 'null';
    if (v === true) return 'true';
    if (v === false) return 'false';
    if (typeof v === 'string' || v instanceof PromptResult) return jsonString(String(v), ensureAscii);
    if (typeof v === 'number') return Number.isInteger(v) ? String(v) : floatJson(v);
    if (typeof v === 'bigint') return bigIntRepr(v);
    if (v instanceof PyFloat) return floatJson(v.value);
    const nl = indent === undefined ? '' : '\n' + ' '.repeat(indent * (depth + 1));
    const close = indent === undefined ? '' : '\n' + ' '.repeat(indent * depth);
    if (Array.isArray(v)) {
      if (v.length === 0) return '[]';
      return `[${nl}${v.map((x) => encode(x, depth + 1)).join(itemSep + nl)}${close}]`;
    }
    if (isDict(v)) {
      const keys = Object.keys(v).filter((k) => v[k] !== undefined);
      if (keys.length === 0) return '{}';
      if (sortKeys) keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${nl}${keys.map((k) => `${jsonString(k, ensureAscii)}: ${encode(v[k], depth + 1)}`).join(itemSep + nl)}${close}}`;
    }
    throw new TemplateEvalError('TypeError', `Object of type ${pyTypeName(v)} is not JSON serializable`);
  };
  return encode(value, 0);
}

function floatJson(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  return pyFloatRepr(x);
}

const JSON_ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

function jsonString(s: string, ensureAscii: boolean): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what JSON must escape
  const pattern = ensureAscii ? /["\\\u0000-\u001f\u007f-\uffff]/g : /["\\\u0000-\u001f]/g;
  return `"${s.replace(pattern, (c) => JSON_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`;
}

/**
 * Python value semantics the executor needs: `ValueType.parse` for flow inputs and literal node inputs
 * (promptflow-formats.md §1.2, §1.6), property paths of references (§1.5) and image values (§2.6).
 * @module
 */
import type { PropertyStep } from '../flow/index.js';
import { PromptResult, pyFloat, pyRepr, pyStr } from './template/index.js';
import { LineFailure } from './line-error.js';
import { ImageInputError, loadImageInput } from './images.js';

const INT_TEXT = /^\s*[+-]?\d+(_\d+)*\s*$/;
// Matched against trimmed text, with one digit run before the point: the former `^\s*…\s*$` with two adjacent
// optional digit runs backtracked quadratically on long non-numbers from data.
const FLOAT_TEXT = /^[+-]?(?:(?:\d+(?:_\d+)*(?:\.\d*)?|\.\d*)?(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)$/i;

/** Why a value does not parse as a type; the caller words the error (`message` may say more, for images). */
export class ValueParseError extends Error {}

/**
 * Python's `ValueType.parse(v)` for `int | double | bool | string | list | object | image` (others unchanged).
 * `baseDir` resolves relative image paths; an image given as a URL comes back as a Promise (it is fetched).
 */
export function parseValue(type: string | undefined, v: unknown, baseDir?: string): unknown {
  switch (type) {
    case 'int':
      return toInt(v);
    case 'double':
      return pyFloat(toFloat(v));
    case 'bool':
      if (typeof v === 'boolean') return v;
      if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
      throw new ValueParseError('bool');
    case 'string':
      return typeof v === 'string' ? v : pyStr(v instanceof PromptResult ? v.text : v);
    case 'list': {
      let out = v;
      if (typeof v === 'string') {
        try {
          out = JSON.parse(v);
        } catch {
          throw new ValueParseError('list');
        }
      }
      if (!Array.isArray(out)) throw new ValueParseError('list');
      return out;
    }
    case 'object':
      if (typeof v === 'string') {
        try {
          return JSON.parse(v);
        } catch {
          return v;
        }
      }
      return v;
    case 'image':
      try {
        return loadImageInput(v, { baseDir: baseDir ?? process.cwd() });
      } catch (e) {
        if (e instanceof ImageInputError) throw new ValueParseError(e.message);
        throw e;
      }
    default:
      return v;
  }
}

function toInt(v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v !== null && typeof v === 'object' && 'valueOf' in v && typeof (v as { value?: unknown }).value === 'number')
    return Math.trunc((v as { value: number }).value);
  if (typeof v === 'string' && INT_TEXT.test(v)) return Number(v.replace(/_/g, '').trim());
  throw new ValueParseError('int');
}

function toFloat(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v !== null && typeof v === 'object' && typeof (v as { value?: unknown }).value === 'number')
    return (v as { value: number }).value;
  if (typeof v === 'string' && FLOAT_TEXT.test(v.trim()) && /[\d]|inf|nan/i.test(v)) {
    const t = v.trim().toLowerCase().replace(/_/g, '');
    if (/^[+-]?inf(inity)?$/.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
    if (/^[+-]?nan$/.test(t)) return NaN;
    const n = Number(t);
    if (!Number.isNaN(n)) return n;
  }
  throw new ValueParseError('double');
}

/** Images recorded as references (moved to images.ts with the rest of the image handling). */
export { toRecordValue } from './images.js';

/** Follows a reference's property path (`output.a[0]['b']`); a missing step → InvalidReferenceProperty. */
export function followPath(value: unknown, path: readonly PropertyStep[], refText: string): unknown {
  let cur = value instanceof PromptResult && path.length > 0 ? value.text : value;
  for (const step of path) {
    if (cur !== null && typeof cur === 'object') {
      if (typeof step === 'number' && Array.isArray(cur) && step < cur.length) {
        cur = cur[step];
        continue;
      }
      if (!Array.isArray(cur) && Object.hasOwn(cur, String(step))) {
        cur = (cur as Record<string, unknown>)[String(step)];
        continue;
      }
    }
    throw new LineFailure(
      `Invalid property '${String(step)}' when accessing the reference '${refText}'. Got value ${pyRepr(cur)}.`,
      ['InvalidReferenceProperty'],
    );
  }
  return cur;
}

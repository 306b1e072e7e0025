/**
 * Python value semantics the executor needs: `ValueType.parse` for flow inputs and literal node inputs
 * (promptflow-formats.md §1.2, §1.6), property paths of references (§1.5) and image values (§2.6).
 * @module
 */
import { readFileSync, realpathSync } from 'node:fs';
import { isAbsolute, resolve, sep } from 'node:path';
import type { PropertyStep } from '../flow/index.js';
import { ImageValue, PromptResult, pyFloat, pyRepr, pyStr } from './template/index.js';
import { LineFailure } from './line-error.js';

const IMAGE_KEY = /^data:image\/(.*);(path|base64|url)$/;
const INT_TEXT = /^\s*[+-]?\d+(_\d+)*\s*$/;
// Matched against trimmed text, with one digit run before the point: the former `^\s*…\s*$` with two adjacent
// optional digit runs backtracked quadratically on long non-numbers from data.
const FLOAT_TEXT = /^[+-]?(?:(?:\d+(?:_\d+)*(?:\.\d*)?|\.\d*)?(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)$/i;

/** Why a value does not parse as a type; the caller words the error. */
export class ValueParseError extends Error {}

/**
 * Python's `ValueType.parse(v)` for `int | double | bool | string | list | object | image` (others unchanged).
 * `baseDir` resolves relative image paths.
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
      return toImage(v, baseDir);
    default:
      return v;
  }
}

function toInt(v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v !== null && typeof v === 'object' && 'valueOf' in v && typeof (v as { value?: unknown }).value === 'number') return Math.trunc((v as { value: number }).value);
  if (typeof v === 'string' && INT_TEXT.test(v)) return Number(v.replace(/_/g, '').trim());
  throw new ValueParseError('int');
}

function toFloat(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v !== null && typeof v === 'object' && typeof (v as { value?: unknown }).value === 'number') return (v as { value: number }).value;
  if (typeof v === 'string' && FLOAT_TEXT.test(v.trim()) && /[\d]|inf|nan/i.test(v)) {
    const t = v.trim().toLowerCase().replace(/_/g, '');
    if (/^[+-]?inf(inity)?$/.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
    if (/^[+-]?nan$/.test(t)) return NaN;
    const n = Number(t);
    if (!Number.isNaN(n)) return n;
  }
  throw new ValueParseError('double');
}

/** An image value from an input: an ImageValue, a `{"data:image/x;base64|path|url": v}` dict, or a string. */
export function toImage(v: unknown, baseDir?: string): unknown {
  if (v instanceof ImageValue) return v;
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const keys = Object.keys(v);
    if (keys.length === 1) {
      const m = IMAGE_KEY.exec(keys[0]);
      if (m) return imageFrom(m[2], String((v as Record<string, unknown>)[keys[0]]), `image/${m[1]}`, baseDir);
    }
    return v;
  }
  if (typeof v === 'string') {
    const data = /^data:(image\/[^;]+);base64,(.*)$/s.exec(v);
    if (data) return new ImageValue(Buffer.from(data[2], 'base64'), data[1]);
    if (/^https?:\/\//.test(v)) return imageFrom('url', v, 'image/*', baseDir);
    return imageFrom('path', v, 'image/*', baseDir);
  }
  return v;
}

function imageFrom(kind: string, value: string, mime: string, baseDir?: string): ImageValue {
  if (kind === 'base64') return new ImageValue(Buffer.from(value, 'base64'), mime);
  if (kind === 'url') return new ImageValue(Buffer.from(value, 'utf8'), mime, value);
  const base = resolve(baseDir ?? '.');
  const file = isAbsolute(value) ? value : resolve(base, value);
  const bytes = readFileSync(imageInside(value, file, base));
  const ext = /\.(\w+)$/.exec(file)?.[1]?.toLowerCase();
  return new ImageValue(bytes, mime === 'image/*' && ext ? `image/${ext === 'jpg' ? 'jpeg' : ext}` : mime);
}

/**
 * The real path of an image file named by an input, which must lie inside the data folder or the working
 * directory: a served request or a dataset must not make the engine read (and send on) any file it can reach.
 */
function imageInside(value: string, file: string, base: string): string {
  let real: string;
  try {
    real = realpathSync(file);
  } catch {
    throw new LineFailure(`Image path ${JSON.stringify(value)} does not exist (looked for ${file}); expected an image file, a base64 image or a URL.`, ['ValidationError', 'InvalidImageInput']);
  }
  const roots = [base, process.cwd()].map((r) => {
    try {
      return realpathSync(r);
    } catch {
      return r;
    }
  });
  if (!roots.some((r) => real === r || real.startsWith(r.endsWith(sep) ? r : r + sep))) {
    throw new LineFailure(`Image path ${JSON.stringify(value)} resolves to ${real}, outside the data folder and the working directory; expected an image inside them, a base64 image or a URL.`, ['ValidationError', 'InvalidImageInput']);
  }
  return real;
}

/** Turns images nested in a value into `{ "data:image/x;base64": … }` dicts (and prompt results into text) for records. */
export function toRecordValue(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof PromptResult) return v.text;
  if (v instanceof ImageValue) return v.sourceUrl ? { [`data:${v.mimeType};url`]: v.sourceUrl } : { [`data:${v.mimeType};base64`]: Buffer.from(v.bytes).toString('base64') };
  if (Array.isArray(v)) return v.map(toRecordValue);
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = toRecordValue((v as Record<string, unknown>)[k]);
  return out;
}

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
    throw new LineFailure(`Invalid property '${String(step)}' when accessing the reference '${refText}'. Got value ${pyRepr(cur)}.`, ['InvalidReferenceProperty']);
  }
  return cur;
}

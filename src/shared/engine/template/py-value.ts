/**
 * JavaScript values seen as the Python objects Prompt Flow would hand to Jinja2: `str()`, `repr()`, truthiness,
 * `==` and ordering with Python's rules (promptflow-formats.md §2.1, §11.1).
 *
 * Value mapping: string → str, integer-valued number → int, other number → float, `PyFloat` → float,
 * boolean → bool, null → None, array → list (`ChatInputList` → its subclass), plain object → dict,
 * `ImageValue` → Image, `PromptResult` → str, `Undefined` → Jinja's Undefined (JS `undefined` too).
 * @module
 */
import { ImageValue } from './image.js';
import { bigIntRepr, intToFloat, toBig } from './py-int.js';
import { PromptResult } from './prompt-result.js';

/**
 * A Python float whose value is integral (`1.0`). JavaScript cannot tell `1` from `1.0`, so values that are
 * floats in Python (flow inputs of type `double`, results of `/`) are wrapped; non-integral numbers need no
 * wrapper. Create them with `pyFloat(n)`.
 */
export class PyFloat {
  constructor(readonly value: number) {}
  valueOf(): number {
    return this.value;
  }
  toString(): string {
    return pyFloatRepr(this.value);
  }
  toJSON(): number {
    return this.value;
  }
}

/** The value Python would hold for float `n`: a `PyFloat` when `n` is integral (so it prints `1.0`), else `n`. */
export function pyFloat(n: number): number | PyFloat {
  return Number.isInteger(n) || Object.is(n, -0) ? new PyFloat(n) : n;
}

/**
 * A list whose `str()` is its items' `str()` joined by `"\n"` (Prompt Flow's `ChatInputList`): what the AzureOpenAI
 * chat tools turn every list input into before rendering. Its `repr()` (inside a dict) stays a normal list repr.
 */
export class ChatInputList extends Array<unknown> {
  // Slices and maps of a ChatInputList are plain lists in Python too.
  static override get [Symbol.species](): ArrayConstructor {
    return Array;
  }
}

/** `convert_to_chat_list`: a copy of the value where every list (inside dicts and lists) is a `ChatInputList`. */
export function toChatInputList(value: unknown): unknown {
  if (Array.isArray(value)) {
    const out = new ChatInputList();
    for (const item of value) out.push(toChatInputList(item));
    return out;
  }
  if (isDict(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) out[key] = toChatInputList(value[key]);
    return out;
  }
  return value;
}

/** Jinja's `Undefined`: prints empty, iterates empty, is falsy; anything else done with it raises `hint`. */
export class Undefined {
  constructor(readonly hint: string) {}
}

/** A plain object, i.e. a Python dict. */
export function isDict(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A str (including a `PromptResult`) as a JS string, else undefined. */
export function asString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v instanceof PromptResult) return v.text;
  return undefined;
}

/** Whether the value is a Python number (int, float or bool). */
export function isNumeric(v: unknown): boolean {
  return typeof v === 'number' || typeof v === 'boolean' || v instanceof PyFloat || typeof v === 'bigint';
}

/** Whether the value is a Python int (bool included), small or big. */
export function isPyInt(v: unknown): boolean {
  return (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'boolean' || typeof v === 'bigint';
}

/** Whether the value is a Python float. */
export function isFloat(v: unknown): boolean {
  return v instanceof PyFloat || (typeof v === 'number' && !Number.isInteger(v));
}

/** The JS number of a Python number (bool → 0/1). */
export function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v instanceof PyFloat) return v.value;
  if (typeof v === 'bigint') return intToFloat(v);
  return NaN;
}

/** Python's class name of a value, as used in error messages (`'int' object is not iterable`). */
export function pyTypeName(v: unknown): string {
  if (v === null) return 'NoneType';
  if (v === undefined || v instanceof Undefined) return 'Undefined';
  if (typeof v === 'string') return 'str';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'bigint') return 'int';
  if (v instanceof PyFloat) return 'float';
  if (v instanceof PromptResult) return 'PromptResult';
  if (v instanceof ChatInputList) return 'ChatInputList';
  if (Array.isArray(v)) return 'list';
  if (v instanceof ImageValue) return 'Image';
  if (typeof v === 'function') return 'method';
  return 'dict';
}

/** Jinja's `object_type_repr`: `None`, `dict object`, `str object`… (for "has no attribute" messages). */
export function objectTypeRepr(v: unknown): string {
  if (v === null) return 'None';
  const name = pyTypeName(v);
  if (name === 'PromptResult' || name === 'ChatInputList') return `promptflow.tools.common.${name} object`;
  if (name === 'Image') return 'promptflow.contracts.multimedia.Image object';
  return `${name} object`;
}

/** Python truthiness (`bool(x)`); Undefined is falsy, NaN is truthy. */
export function pyTruthy(v: unknown): boolean {
  if (v === null || v === undefined || v instanceof Undefined) return false;
  if (typeof v === 'string') return v.length > 0;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'boolean') return v;
  if (v instanceof PyFloat) return v.value !== 0;
  if (typeof v === 'bigint') return v !== 0n;
  if (v instanceof PromptResult) return v.text.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof ImageValue) return v.bytes.length > 0;
  if (isDict(v)) return Object.keys(v).length > 0;
  return true;
}

/** Python `==` (1 == 1.0 == True; lists and dicts compare by content; Undefined equals only Undefined). */
export function pyEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Undefined || a === undefined) return b instanceof Undefined || b === undefined;
  if (isNumeric(a)) {
    if (!isNumeric(b)) return false;
    if (typeof a === 'bigint' || typeof b === 'bigint')
      return isPyInt(a) && isPyInt(b) ? toBig(a) === toBig(b) : Number(a) === Number(b);
    return toNumber(a) === toNumber(b);
  }
  const sa = asString(a);
  if (sa !== undefined) return sa === asString(b);
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => pyEquals(x, b[i]));
  if (a instanceof ImageValue) return b instanceof ImageValue && Buffer.from(a.bytes).equals(Buffer.from(b.bytes));
  if (isDict(a)) {
    if (!isDict(b)) return false;
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && pyEquals(a[k], b[k]));
  }
  return false;
}

/** Python `str(x)` as Jinja prints it (`{{ x }}`); Undefined prints empty. */
export function pyStr(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined || v instanceof Undefined) return '';
  if (v instanceof PromptResult) return v.text;
  if (v instanceof ChatInputList) return v.map(pyStr).join('\n');
  return pyRepr(v);
}

/** Python `repr(x)`: quoted strings, `True`/`None`, floats with `.0`, `[...]`, `{'k': v}`. */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'string') return pyStringRepr(v);
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return Number.isInteger(v) ? pyIntRepr(v) : pyFloatRepr(v);
  if (typeof v === 'bigint') return bigIntRepr(v);
  if (v instanceof PyFloat) return pyFloatRepr(v.value);
  if (v instanceof Undefined) return 'Undefined';
  if (v instanceof PromptResult) return pyStringRepr(v.text);
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (v instanceof ImageValue) return v.toString();
  if (isDict(v))
    return `{${Object.keys(v)
      .map((k) => `${pyStringRepr(k)}: ${pyRepr(v[k])}`)
      .join(', ')}}`;
  return String(v);
}

function pyIntRepr(n: number): string {
  return Math.abs(n) < 1e21 ? String(n === 0 ? 0 : n) : BigInt(n).toString();
}

/** Python `repr(float)`: shortest round-trip digits, exponent form when the exponent is < -4 or >= 16. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, expText] = Math.abs(x).toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  const exp = Number(expText);
  const point = exp + 1; // digits are 0.d1d2… × 10^point
  let body: string;
  if (point <= -4 || point > 16) {
    const frac = digits.length > 1 ? `.${digits.slice(1)}` : '';
    body = `${digits[0]}${frac}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  } else if (point <= 0) body = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) body = `${digits}${'0'.repeat(point - digits.length)}.0`;
  else body = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return x < 0 ? `-${body}` : body;
}

// Characters str.isprintable() rejects (other than the ASCII ones handled first).
const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;
const SIMPLE = /^[ !#-&(-[\]-~]*$/; // printable ASCII without quotes or backslash

/** Python `repr(str)`: single quotes unless the text has `'` and no `"`; escapes as CPython does. */
export function pyStringRepr(s: string): string {
  if (SIMPLE.test(s)) return `'${s}'`;
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === quote || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${hex(code, 2)}`;
    else if (code < 0x7f || code === 0x20 || !NON_PRINTABLE.test(ch)) out += ch;
    else if (code < 0x100) out += `\\x${hex(code, 2)}`;
    else if (code < 0x10000) out += `\\u${hex(code, 4)}`;
    else out += `\\U${hex(code, 8)}`;
  }
  return out + quote;
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/**
 * `${env:NAME}` and `${file:path}` values (§5.2), used by Prompty front matter and flex `sample:`.
 * Only a whole string value is a reference; an unset variable leaves the text as written.
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { extname, isAbsolute, join } from 'node:path';
import { parseDocument } from 'yaml';
import { realPathOutside } from '../files.js';
import type { PathSegment } from '../source.js';

// Anchored at the start only, like Python's re.match: `${env:A} tail` still reads env A.
const REFERENCE = /^\$\{([\p{L}\p{N}_]+):(.*)\}/u;

export interface RefContext {
  baseDir: string;
  env: Record<string, string | undefined>;
  /** Called for a `${file:}` that cannot be read or parsed; the value is left as written. */
  problem(path: PathSegment[], message: string): void;
  /** Told of an `${env:NAME}` whose variable is not set (the value is left as written, as Prompt Flow does). */
  unsetEnv?(path: PathSegment[], name: string): void;
}

/** A copy of `value` with every `${env:}`/`${file:}` string resolved. */
export function resolveRefs(value: unknown, ctx: RefContext, path: PathSegment[] = []): unknown {
  if (typeof value === 'string') return resolveOne(value, ctx, path);
  if (Array.isArray(value)) return value.map((item, i) => resolveRefs(item, ctx, [...path, i]));
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolveRefs(v, ctx, [...path, k]);
    return out;
  }
  return value;
}

function resolveOne(text: string, ctx: RefContext, path: PathSegment[]): unknown {
  const m = REFERENCE.exec(text);
  if (!m) return text;
  const [, kind, target] = m;
  if (kind === 'env') {
    if (ctx.env[target] === undefined) ctx.unsetEnv?.(path, target);
    return ctx.env[target] ?? text;
  }
  if (kind !== 'file') return text;
  const file = isAbsolute(target) ? target : join(ctx.baseDir, target);
  if (!existsSync(file)) {
    ctx.problem(
      path,
      `found ${text}, but the file ${target} does not exist; expected a file relative to the flow's folder`,
    );
    return text;
  }
  const real = realPathOutside(file, [ctx.baseDir, process.cwd()]);
  if (real) {
    ctx.problem(
      path,
      `found ${text}, which resolves to ${real}, outside the flow's folder and the working directory; expected a file inside them`,
    );
    return undefined;
  }
  const content = readFileSync(file, 'utf8');
  const ext = extname(file).toLowerCase();
  try {
    if (ext === '.json') return JSON.parse(content);
    if (ext === '.yaml' || ext === '.yml') {
      const doc = parseDocument(content, { version: '1.2' });
      if (doc.errors.length > 0) throw new Error(doc.errors[0].message.split('\n')[0]);
      return doc.toJS({ maxAliasCount: 100 });
    }
  } catch (e) {
    ctx.problem(
      path,
      `found ${text}, but ${target} is not valid ${ext.slice(1).toUpperCase()} (${(e as Error).message}); expected a parsable file`,
    );
    return text;
  }
  return content;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Prompt Flow's deep merge of load-time overrides: mappings merge key by key, anything else in
 * `over` replaces what `base` holds.
 */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isRecord(v) ? deepMerge(isRecord(base[k]) ? base[k] : {}, v) : v;
  }
  return out;
}

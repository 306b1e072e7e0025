/**
 * JSON Schema validation of user files with ajv, turned into one-line Problems at the
 * file:line:column of the offending key or value.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { assetPath } from '../assets.js';
import type { Problem } from '../errors.js';
import { describeValue, formatPath, locate, type PathSegment, type SourceFile } from '../source.js';

export const SCHEMA_NAMES = ['experiment', 'deployment_config', 'dataops_config', 'flow.dag', 'flow.flex'] as const;
export type SchemaName = (typeof SCHEMA_NAMES)[number];

/** The ajv options of every user-file schema; the bundles' precompiled validators use the same. */
export const SCHEMA_AJV_OPTIONS = { allErrors: true, verbose: true, strict: false, allowUnionTypes: true } as const;

let ajv: Ajv | undefined;
const compiled = new Map<SchemaName, ValidateFunction>();

/**
 * Validators compiled ahead of time (the packaged actions and tasks register them before they
 * run): compiling these schemas at start costs 100-250 ms, most of a step's cold start.
 */
export function registerPrecompiledValidators(validators: Partial<Record<SchemaName, ValidateFunction>>): void {
  for (const [name, fn] of Object.entries(validators))
    if (fn && !compiled.has(name as SchemaName)) compiled.set(name as SchemaName, fn);
}

export function schemaValidator(name: SchemaName): ValidateFunction {
  let fn = compiled.get(name);
  if (!fn) {
    ajv ??= new Ajv({ ...SCHEMA_AJV_OPTIONS });
    fn = ajv.compile(JSON.parse(readFileSync(assetPath(`schemas/${name}.schema.json`), 'utf8')));
    compiled.set(name, fn);
  }
  return fn;
}

/** A schema problem with the top-level block it was found in ('' = the document as a whole). */
export type BlockProblem = Problem & { block: string };

/**
 * Validate `value` against a schema. `sourceFor` says which file a path lives in (overlays
 * put top-level blocks in another file than the base).
 */
export function checkSchema(
  name: SchemaName,
  value: unknown,
  sourceFor: (path: PathSegment[]) => SourceFile,
  options: { partial?: boolean; brokenBlocks?: Set<string> } = {},
): Problem[] {
  return checkSchemaByBlock(name, value, sourceFor, options).map(({ block: _block, ...problem }) => problem);
}

/** checkSchema, each problem with the top-level block it belongs to. */
export function checkSchemaByBlock(
  name: SchemaName,
  value: unknown,
  sourceFor: (path: PathSegment[]) => SourceFile,
  options: { partial?: boolean; brokenBlocks?: Set<string> } = {},
): BlockProblem[] {
  const validate = schemaValidator(name);
  if (validate(value)) return [];
  const problems: BlockProblem[] = [];
  const ranks: number[] = [];
  const byPlace = new Map<string, number>();
  for (const err of pickErrors(validate.errors ?? [])) {
    if (options.partial && err.keyword === 'required' && err.instancePath === '') continue;
    const path = pointerToPath(err.instancePath);
    const block = brokenBlockOf(err, path);
    options.brokenBlocks?.add(block);
    const { at, message } = describeError(err, path);
    const loc = locate(sourceFor(at.path), at.path, at.part);
    const problem = { ...loc, message: `${formatPath(at.path)}: ${message}`, block };
    // One message per place: a value that breaks several keywords (an empty name breaks both
    // minLength and pattern) is one problem for the user, said by its most specific keyword.
    const place = `${loc.file}:${loc.line}:${loc.column}:${formatPath(at.path)}`;
    const earlier = byPlace.get(place);
    if (earlier === undefined) {
      byPlace.set(place, problems.length);
      problems.push(problem);
      ranks.push(rankOf(err));
    } else if (rankOf(err) < ranks[earlier]) {
      problems[earlier] = problem;
      ranks[earlier] = rankOf(err);
    }
  }
  return problems;
}

/** Keywords that describe a value most precisely rank first (lower). */
function rankOf(err: ErrorObject): number {
  return (
    ({ required: 0, additionalProperties: 0, type: 1, enum: 2, minLength: 3, minItems: 3 } as Record<string, number>)[
      err.keyword
    ] ?? 4
  );
}

/** The top-level block an error makes untrustworthy ('' = the whole document). */
function brokenBlockOf(err: ErrorObject, path: PathSegment[]): string {
  if (path.length > 0) return String(path[0]);
  if (err.keyword === 'required') return String((err.params as { missingProperty: string }).missingProperty);
  if (err.keyword === 'additionalProperties')
    return String((err.params as { additionalProperty: string }).additionalProperty);
  return '';
}

/**
 * anyOf/oneOf summaries repeat what their branches already said. And a value that has the type of one branch
 * (a mapping where text or a mapping is allowed) is wrong inside it: the other branch's "expected text" is noise.
 */
function pickErrors(errors: ErrorObject[]): ErrorObject[] {
  const kept = errors.filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf');
  return kept.filter((e) => e.keyword !== 'type' || !kept.some((o) => o.instancePath.startsWith(`${e.instancePath}/`)));
}

function pointerToPath(pointer: string): PathSegment[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

const typeWords: Record<string, string> = {
  string: 'text',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  null: 'nothing (null)',
};

function expectedOf(err: ErrorObject): string | undefined {
  const schema = err.parentSchema as Record<string, unknown> | undefined;
  return typeof schema?.['x-expected'] === 'string' ? (schema['x-expected'] as string) : undefined;
}

function describeError(
  err: ErrorObject,
  path: PathSegment[],
): { at: { path: PathSegment[]; part: 'key' | 'value' }; message: string } {
  const value = err.data;
  const params = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'required': {
      const missing = String(params.missingProperty);
      const props = (err.parentSchema as { properties?: Record<string, { description?: string }> }).properties;
      const hint = props?.[missing]?.description ? ` (${firstSentence(props[missing].description!)})` : '';
      return { at: { path, part: 'value' }, message: `missing required key "${missing}"${hint}` };
    }
    case 'additionalProperties': {
      const extra = String(params.additionalProperty);
      const known = Object.keys((err.parentSchema as { properties?: object }).properties ?? {});
      const guess = closest(extra, known);
      const hint = guess ? `; did you mean "${guess}"?` : known.length ? `; expected one of: ${known.join(', ')}` : '';
      return { at: { path: [...path, extra], part: 'key' }, message: `unknown key "${extra}"${hint}` };
    }
    case 'type': {
      const types = ([] as string[]).concat(params.type as string | string[]).filter((t) => t !== 'null');
      const words = types.map((t) => typeWords[t] ?? t).join(' or ');
      return { at: { path, part: 'value' }, message: `found ${describeValue(value)}, expected ${words}` };
    }
    case 'enum':
      return {
        at: { path, part: 'value' },
        message: `found ${describeValue(value)}, expected one of: ${(params.allowedValues as unknown[]).map(String).join(', ')}`,
      };
    case 'const':
      return {
        at: { path, part: 'value' },
        message: `found ${describeValue(value)}, expected ${JSON.stringify(params.allowedValue)}`,
      };
    case 'minItems':
      return {
        at: { path, part: 'value' },
        message: `found ${describeValue(value)}, expected at least ${params.limit} item(s)`,
      };
    case 'minLength':
      return {
        at: { path, part: 'value' },
        message: `found an empty text, expected ${expectedOf(err) ?? 'a non-empty value'}`,
      };
    case 'pattern': {
      // A field that may hold a secret by mistake (writeOnly) is never echoed into a log.
      const shown = (err.parentSchema as { writeOnly?: boolean } | undefined)?.writeOnly
        ? 'a value that does not match (not shown: it may be a secret)'
        : describeValue(value);
      return {
        at: { path, part: 'value' },
        message: `found ${shown}, expected ${expectedOf(err) ?? `text matching ${params.pattern}`}`,
      };
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const op = { minimum: '>=', maximum: '<=', exclusiveMinimum: '>', exclusiveMaximum: '<' }[err.keyword];
      return {
        at: { path, part: 'value' },
        message: `found ${describeValue(value)}, expected ${expectedOf(err) ?? `a number ${op} ${params.limit}`}`,
      };
    }
    case 'uniqueItems':
      return {
        at: { path, part: 'value' },
        message: `found duplicate items (${params.j} and ${params.i}), expected each item once`,
      };
    default:
      return {
        at: { path, part: 'value' },
        message: `found ${describeValue(value)}, ${err.message ?? 'not valid here'}`,
      };
  }
}

function firstSentence(text: string): string {
  const end = text.search(/[.:](\s|$)/);
  return end > 0 ? text.slice(0, end) : text;
}

/** The known key closest to a typo (edit distance <= 2), for "did you mean". */
export function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}

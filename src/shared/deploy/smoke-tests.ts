/**
 * The smoke tests to run: a tests YAML file (schemas/smoke-tests.schema.json, problems at file:line:column), or
 * the use case's sample requests (deployment_config.json TEST_FILE_PATH for the env, else sample-request.json),
 * which must answer 200 with a non-empty JSON object — the seed template only logged them.
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { assetPath } from '../assets.js';
import { ConfigError, type Problem } from '../errors.js';
import { formatPath, locate, readSource, type PathSegment, type SourceFile } from '../source.js';
import { closest } from '../config/schema-check.js';

export interface ValueExpectation {
  path: string;
  equals?: unknown;
  contains?: string;
  matches?: string;
  exists?: boolean;
}

export interface SmokeTest {
  name: string;
  /** A JSON object of flow inputs, or text for a single-input flow. */
  request: Record<string, unknown> | string;
  headers: Record<string, string>;
  stream: boolean;
  expect: { status: number; schema?: Record<string, unknown>; values: ValueExpectation[] };
  latency?: { repeats: number; p50Ms?: number; p95Ms?: number };
  /** Where the test is written (for messages). */
  at: { file: string; line?: number; column?: number };
}

export interface SmokeSuite {
  /** Where the tests come from (shown in the report). */
  source: string;
  warmupMs: number;
  timeoutMs: number;
  headers: Record<string, string>;
  tests: SmokeTest[];
}

// verbose: an unknown key's error carries its schema, whose keys name the likely intended one.
const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true, verbose: true });
let validator: ValidateFunction | undefined;

/** Reads and checks a tests file; every problem is reported with its position (ConfigError, exit 2). */
export function loadSmokeTests(file: string, cwd = process.cwd()): SmokeSuite {
  const display = path.relative(cwd, path.resolve(cwd, file)) || file;
  const absolute = path.resolve(cwd, file);
  if (!existsSync(absolute))
    throw ConfigError.at(
      { file: display },
      'file not found: expected a smoke tests YAML file (see schemas/smoke-tests.schema.json)',
    );
  const source = readSource(absolute, display);
  validator ??= ajv.compile(JSON.parse(readFileSync(assetPath('schemas/smoke-tests.schema.json'), 'utf8')));
  if (!validator(source.value)) throw new ConfigError(schemaProblems(source, validator.errors ?? []));
  const raw = source.value as {
    warmup_seconds?: number;
    timeout_seconds?: number;
    headers?: Record<string, string>;
    tests: Record<string, unknown>[];
  };
  const problems: Problem[] = [];
  const tests = raw.tests.map((t, i) => toTest(t, i, source, path.dirname(absolute), problems));
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    source: display,
    warmupMs: (raw.warmup_seconds ?? 60) * 1000,
    timeoutMs: (raw.timeout_seconds ?? 30) * 1000,
    headers: raw.headers ?? {},
    tests,
  };
}

function toTest(
  t: Record<string, unknown>,
  i: number,
  source: SourceFile,
  dir: string,
  problems: Problem[],
): SmokeTest {
  const at = (...p: PathSegment[]) => locate(source, ['tests', i, ...p]);
  let request = t.request as SmokeTest['request'] | undefined;
  if (typeof t.request_file === 'string') {
    const f = path.resolve(dir, t.request_file);
    try {
      request = JSON.parse(readFileSync(f, 'utf8')) as SmokeTest['request'];
    } catch (e) {
      problems.push({
        ...at('request_file'),
        message: `tests[${i}].request_file: cannot read ${t.request_file} as JSON (${(e as Error).message.split('\n')[0]})`,
      });
    }
  }
  const expect = (t.expect ?? {}) as { status?: number; schema?: Record<string, unknown>; values?: ValueExpectation[] };
  if (expect.schema) {
    try {
      ajv.compile(expect.schema);
    } catch (e) {
      problems.push({
        ...at('expect', 'schema'),
        message: `tests[${i}].expect.schema: not a valid JSON Schema (${(e as Error).message})`,
      });
    }
  }
  (expect.values ?? []).forEach((v, j) => {
    if (v.matches !== undefined) {
      try {
        new RegExp(v.matches);
      } catch (e) {
        problems.push({
          ...at('expect', 'values', j, 'matches'),
          message: `tests[${i}].expect.values[${j}].matches: ${(e as Error).message}`,
        });
      }
    }
    if (parseJsonPath(v.path) === undefined)
      problems.push({
        ...at('expect', 'values', j, 'path'),
        message: `tests[${i}].expect.values[${j}].path: found ${JSON.stringify(v.path)}, expected a JSON path such as $.answer, $.items[0] or $['a key']`,
      });
  });
  const latency = t.latency as { repeats: number; p50_ms?: number; p95_ms?: number } | undefined;
  return {
    name: String(t.name),
    request: request ?? {},
    headers: (t.headers as Record<string, string>) ?? {},
    stream: t.stream === true,
    expect: { status: expect.status ?? 200, schema: expect.schema, values: expect.values ?? [] },
    latency: latency ? { repeats: latency.repeats, p50Ms: latency.p50_ms, p95Ms: latency.p95_ms } : undefined,
    at: at(),
  };
}

/** The sample request of a use case as one test: 200 and a non-empty JSON object. */
export function sampleRequestSuite(file: string, cwd = process.cwd()): SmokeSuite {
  const display = path.relative(cwd, file) || file;
  let request: unknown;
  try {
    request = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw ConfigError.at(
      { file: display },
      `cannot read the sample request as JSON: ${(e as Error).message.split('\n')[0]}`,
    );
  }
  if (request === null || typeof request !== 'object' || Array.isArray(request))
    throw ConfigError.at({ file: display, line: 1, column: 1 }, 'expected a JSON object of flow inputs');
  return {
    source: display,
    warmupMs: 60_000,
    timeoutMs: 30_000,
    headers: {},
    tests: [
      {
        name: `sample request (${path.basename(file)})`,
        request: request as Record<string, unknown>,
        headers: {},
        stream: false,
        expect: { status: 200, schema: { type: 'object', minProperties: 1 }, values: [] },
        at: { file: display },
      },
    ],
  };
}

/** `$.a.b[0]['c d']` → ['a', 'b', 0, 'c d']; undefined when not a path we understand. */
export function parseJsonPath(text: string): PathSegment[] | undefined {
  if (!text.startsWith('$')) return undefined;
  const out: PathSegment[] = [];
  const re = /\.([A-Za-z_][\w-]*)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]|\["((?:[^"\\]|\\.)*)"\]/y;
  let i = 1;
  while (i < text.length) {
    re.lastIndex = i;
    const m = re.exec(text);
    if (!m) return undefined;
    out.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : (m[3] ?? m[4]).replace(/\\(.)/g, '$1')));
    i = re.lastIndex;
  }
  return out;
}

function schemaProblems(source: SourceFile, errors: ErrorObject[]): Problem[] {
  const seen = new Set<string>();
  const problems: Problem[] = [];
  // The oneOf of request/request_file produces echoes of the real error; keep the most specific ones.
  for (const e of errors.filter((x) => x.keyword !== 'oneOf' && x.keyword !== 'if')) {
    const p: PathSegment[] = e.instancePath
      .split('/')
      .slice(1)
      .map((s) => (/^\d+$/.test(s) ? Number(s) : s.replace(/~1/g, '/').replace(/~0/g, '~')));
    let message: string;
    if (e.keyword === 'additionalProperties') {
      const key = (e.params as { additionalProperty: string }).additionalProperty;
      p.push(key);
      const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const guess = closest(key, known);
      message = `${formatPath(p)}: unknown key${guess ? `; did you mean "${guess}"?` : known.length ? `, expected one of: ${known.join(', ')}` : ', expected one of the keys in schemas/smoke-tests.schema.json'}`;
    } else if (e.keyword === 'required') {
      const missing = (e.params as { missingProperty: string }).missingProperty;
      const what = missing === 'request' || missing === 'request_file' ? 'request (or request_file)' : missing;
      message = `${formatPath(p)}: ${what} is required`;
    } else message = `${formatPath(p)}: ${e.message}`;
    const loc = e.keyword === 'additionalProperties' ? locate(source, p, 'key') : locate(source, p);
    const key = `${loc.line}:${loc.column}:${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push({ ...loc, message });
  }
  return problems.length > 0
    ? problems
    : [{ file: source.file, message: 'does not match schemas/smoke-tests.schema.json' }];
}

/**
 * experiment.yaml's `flow: {target: http, ...}` as a FlowRef: the target's shape (flow/http-target.ts), and its
 * URL's and headers' `${VAR}` placeholders read now, so an unset variable is said at its line before anything runs
 * and every header value is masked in logs.
 * @module
 */
import type { Problem } from '../errors.js';
import { loadHttpTarget } from '../flow/http-target.js';
import { locate, type PathSegment, type SourceFile } from '../source.js';
import type { Environment } from './environment.js';
import type { FlowRef } from './types.js';

export { isHttpTargetValue } from '../flow/http-target.js';

const ENV_REF = /\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)\}/g;

export function checkHttpTarget(
  raw: Record<string, unknown>,
  o: {
    source: SourceFile;
    /** Where the target is written (default ['flow']). */
    at?: PathSegment[];
    file: string;
    baseDir: string;
    name: string;
    env: Environment;
    /** Unset variables (runtime problems: a dry run lists them instead). */
    problems: Problem[];
    /** The target's shape. */
    shapeProblems: Problem[];
    secrets: Set<string>;
  },
): FlowRef | undefined {
  const at = o.at ?? ['flow'];
  const model = loadHttpTarget(
    raw,
    { source: o.source, at, file: o.file, baseDir: o.baseDir, name: o.name },
    o.shapeProblems,
  );
  if (!model) return undefined;
  const places: [PathSegment[], string, boolean][] = [[['url'], model.target.url, false]];
  for (const [h, v] of Object.entries(model.target.headers)) places.push([['headers', h], v, true]);
  for (const [p, text, secret] of places)
    for (const m of text.matchAll(ENV_REF)) {
      const value = o.env.get(m[1]);
      if (value === undefined || value === '') {
        if (o.env.unset?.(m[1])) continue;
        o.problems.push({
          ...locate(o.source, [...at, ...p]),
          message: `${[...at, ...p].join('.')}: environment variable ${m[1]} is ${value === '' ? 'empty' : 'not set'} (needed for the placeholder ${m[0]})`,
        });
      } else if (secret) o.secrets.add(value);
    }
  return { path: o.file, file: o.file, kind: 'http', model };
}

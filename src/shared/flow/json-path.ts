/**
 * The small JSONPath subset an http target's outputs are read with: `$`, `.name`, `['name']`, `[n]`, `[-n]`, `[*]`
 * and `.*`. Hand-written because no JSONPath library is a dependency and this subset (no filters, no recursive
 * descent, no script) is a few lines, with errors that say where the path is wrong.
 * @module
 */

export type JsonPathStep = { key: string } | { index: number } | { wildcard: true };

export interface JsonPath {
  text: string;
  steps: JsonPathStep[];
  /** A wildcard anywhere: the path reads a list of every match. */
  many: boolean;
}

/** Parses a path; throws Error with the position and what was expected when it is not in the subset. */
export function parseJsonPath(text: string): JsonPath {
  const steps: JsonPathStep[] = [];
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(
      `${JSON.stringify(text)} at character ${i + 1}: found ${what}, expected .name, ['name'], [n] or [*]`,
    );
  };
  if (text[0] !== '$') fail(text.length ? JSON.stringify(text[0]) : 'nothing');
  i = 1;
  while (i < text.length) {
    const c = text[i];
    if (c === '.') {
      const m = /^(\*|[A-Za-z_$][\w$-]*)/.exec(text.slice(i + 1));
      if (!m) fail(i + 1 < text.length ? JSON.stringify(text[i + 1]) : 'the end of the path');
      steps.push(m![1] === '*' ? { wildcard: true } : { key: m![1] });
      i += 1 + m![1].length;
    } else if (c === '[') {
      const rest = text.slice(i);
      const m = /^\[(?:(\*)|(-?\d+)|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\]/.exec(rest);
      if (!m) fail(JSON.stringify(rest.slice(0, 12)));
      if (m![1]) steps.push({ wildcard: true });
      else if (m![2] !== undefined) steps.push({ index: Number(m![2]) });
      else steps.push({ key: (m![3] ?? m![4]).replace(/\\(.)/g, '$1') });
      i += m![0].length;
    } else fail(JSON.stringify(c));
  }
  return { text, steps, many: steps.some((s) => 'wildcard' in s) };
}

/** The value at the path (undefined when absent), or for a path with a wildcard the list of every match. */
export function readJsonPath(path: JsonPath, value: unknown): unknown {
  let current: unknown[] = [value];
  for (const step of path.steps) {
    const next: unknown[] = [];
    for (const v of current) {
      if ('wildcard' in step) {
        if (Array.isArray(v)) next.push(...v);
        else if (v !== null && typeof v === 'object') next.push(...Object.values(v));
      } else if ('index' in step) {
        if (Array.isArray(v)) {
          const at = step.index < 0 ? v.length + step.index : step.index;
          if (at >= 0 && at < v.length) next.push(v[at]);
        }
      } else if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.hasOwn(v, step.key)) {
        next.push((v as Record<string, unknown>)[step.key]);
      }
    }
    current = next;
  }
  return path.many ? current : current[0];
}

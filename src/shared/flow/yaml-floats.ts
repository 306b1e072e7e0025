/**
 * YAML reads `1.0` as the number 1, and JavaScript cannot tell it from `1`; Python keeps it a float, so a
 * prompt node's literal `1.0` renders `1.0` and reaches Python code as a float. Literal values of a flow file
 * are re-read here: numbers written as floats (`1.0`, `2e3`, `.5` is not integral and needs nothing) become
 * `PyFloat`s, the engine's Python float (engine/template/py-value.ts, a leaf module with no imports from flow).
 * @module
 */
import { isMap, isScalar, isSeq } from 'yaml';
import { pyFloat } from '../engine/template/py-value.js';
import type { PathSegment, SourceFile } from '../source.js';

/** `value` (the JS value at `path` in the file) with integral numbers written as floats turned into PyFloats. */
export function keepYamlFloats(source: SourceFile, path: readonly PathSegment[], value: unknown): unknown {
  if (!hasInteger(value, 0)) return value;
  return convert(source, source.doc.getIn(path, true), value);
}

function hasInteger(v: unknown, depth: number): boolean {
  if (typeof v === 'number') return Number.isInteger(v);
  if (v === null || typeof v !== 'object' || depth > 50) return false;
  return (Array.isArray(v) ? v : Object.values(v)).some((x) => hasInteger(x, depth + 1));
}

function convert(source: SourceFile, node: unknown, value: unknown): unknown {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || !isScalar(node) || !node.range) return value;
    const text = source.text.slice(node.range[0], node.range[1]);
    return /^[-+]?(\d[\d_]*)?\.\d*([eE][-+]?\d+)?$|^[-+]?\d[\d_]*[eE][-+]?\d+$/.test(text.trim())
      ? pyFloat(value)
      : value;
  }
  if (Array.isArray(value)) {
    if (!isSeq(node)) return value;
    return value.map((v, i) => convert(source, node.get(i, true), v));
  }
  if (value !== null && typeof value === 'object') {
    if (!isMap(node)) return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = convert(source, node.get(k, true), v);
    return out;
  }
  return value;
}

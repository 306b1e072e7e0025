/**
 * Column mapping (promptflow-formats.md §6.4): `${data.x}`, `${run.outputs.x}`, `${run.inputs.x}`, literals;
 * flow inputs without a default are mapped from the same-name data column by default. A reference no source can
 * resolve fails the whole run before any line runs (ConfigError).
 * @module
 */
import { ConfigError, type Problem } from '../errors.js';
import type { FlowInputDef } from '../flow/index.js';

export type ColumnMapping = Record<string, unknown>;
export type SourceName = 'data' | 'run.outputs' | 'run.inputs';
export type Sources = Partial<Record<SourceName, Record<string, unknown>>>;

interface Compiled {
  key: string;
  literal?: unknown;
  /** Candidate (source, field) splits, left to right. */
  splits?: Array<[string, string]>;
  text?: string;
}

/** Default mapping for inputs without defaults, overwritten by the user's mapping. */
export function effectiveMapping(inputs: Record<string, FlowInputDef>, user: ColumnMapping = {}): ColumnMapping {
  const out: ColumnMapping = {};
  for (const [name, def] of Object.entries(inputs)) if (!def.hasDefault) out[name] = `\${data.${name}}`;
  for (const [k, v] of Object.entries(user)) if (k !== 'line_number') out[k] = v;
  return out;
}

export class CompiledMapping {
  private readonly entries: Compiled[];
  constructor(readonly mapping: ColumnMapping) {
    this.entries = Object.entries(mapping).map(([key, v]) => {
      if (typeof v !== 'string' || !/^\$\{.+\}$/s.test(v)) return { key, literal: v };
      const body = v.slice(2, -1);
      const parts = body.split('.');
      const splits: Array<[string, string]> = [];
      for (let i = 1; i < parts.length; i++) splits.push([parts.slice(0, i).join('.'), parts.slice(i).join('.')]);
      return { key, splits, text: v };
    });
  }

  /** References no source can resolve, given the columns each source has. */
  unresolved(columns: Partial<Record<string, Set<string>>>): string[] {
    const bad: string[] = [];
    for (const e of this.entries) {
      if (!e.splits) continue;
      if (!e.splits.some(([s, f]) => columns[s]?.has(f))) bad.push(`${e.key}: ${e.text}`);
    }
    return bad;
  }

  /** Throws ConfigError (exit 2) listing every unresolvable reference. */
  check(columns: Partial<Record<string, Set<string>>>, where: string): void {
    const bad = this.unresolved(columns);
    if (bad.length === 0) return;
    const available = Object.entries(columns)
      .map(([s, c]) => `${s}: ${[...(c ?? [])].join(', ') || '(none)'}`)
      .join('; ');
    const problems: Problem[] = bad.map((b) => ({
      file: where,
      message: `column mapping ${b} cannot be resolved (ApplyInputMappingError); available columns — ${available}`,
    }));
    throw new ConfigError(problems);
  }

  /** The mapped inputs of one line. Missing fields (a row without that key) become null, as pandas' NaN would. */
  apply(sources: Sources): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const e of this.entries) {
      if (!e.splits) {
        out[e.key] = e.literal;
        continue;
      }
      let value: unknown = null;
      for (const [s, f] of e.splits) {
        const src = sources[s as SourceName];
        if (src && Object.hasOwn(src, f)) {
          value = src[f];
          break;
        }
      }
      out[e.key] = value;
    }
    return out;
  }

  /** The data columns the mapping reads (`${data.x}`), with the input each feeds: every row must have them. */
  dataColumns(): { column: string; input: string }[] {
    const out: { column: string; input: string }[] = [];
    for (const e of this.entries) {
      const split = e.splits?.find(([s]) => s === 'data');
      if (split) out.push({ column: split[1], input: e.key });
    }
    return out;
  }

  /** Which sources the mapping reads (so a referenced run is loaded only when needed). */
  uses(source: SourceName): boolean {
    return this.entries.some((e) => e.splits?.some(([s]) => s === source));
  }
}

/** Parses `k=v` pairs (CLI `--column-mapping`). */
export function parseMappingPairs(pairs: readonly string[] = []): ColumnMapping {
  const out: ColumnMapping = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0)
      throw ConfigError.at({ file: '--column-mapping' }, `found ${JSON.stringify(p)}, expected input=\${data.column}`);
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}

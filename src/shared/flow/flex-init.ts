/**
 * The `__init__` arguments of a flex class entry, from every place the template and Prompt Flow put them:
 * `init:` defaults in flow.flex.yaml < `sample.init` (only when the caller gives none) < `init.json` beside the flow file < the caller's
 * (`--init`, `--init-file`, experiment.yaml's per-flow `init`). Placeholders in the files are read from the
 * environment when their value is the one used: `${x}` from `<PARAM>_<X>` (as connections read theirs),
 * `${env:X}` from X.
 * @module
 */
import { ConfigError, type Problem } from '../errors.js';
import type { FlexFlow, InitPlaceholder } from './model.js';

export interface FlexInit {
  /** Arguments by name, placeholders resolved. */
  values: Record<string, unknown>;
  /** Where each argument came from, for messages. */
  origins: Record<string, string>;
  /** Values read from the environment (to mask in logs). */
  secrets: string[];
}

/** Where init values can be given, said when a required one is missing. */
export const INIT_SOURCES =
  "give it in init.json beside flow.flex.yaml, as an init: default in flow.flex.yaml, with --init name=value / --init-file, or in the experiment's init block of the flow";

export function resolveFlexInit(
  flow: FlexFlow,
  override: Record<string, unknown> | undefined,
  env: (name: string) => string | undefined = (n) => process.env[n],
): FlexInit {
  const values: Record<string, unknown> = {};
  const origins: Record<string, string> = {};
  const layers: Array<{ origin: string; values: Record<string, unknown>; placeholders: InitPlaceholder[] }> = [
    {
      origin: flow.displayFile,
      values: Object.fromEntries(
        Object.values(flow.init)
          .filter((d) => d.hasDefault)
          .map((d) => [d.name, d.default]),
      ),
      placeholders: flow.initPlaceholders ?? [],
    },
    // As in Prompt Flow, the sample's init stands in only when the caller gives none.
    {
      origin: `${flow.displayFile} sample.init`,
      values: override === undefined ? (flow.sample?.init ?? {}) : {},
      placeholders: [],
    },
    {
      origin: flow.initFile?.displayFile ?? 'init.json',
      values: flow.initFile?.values ?? {},
      placeholders: flow.initFile?.placeholders ?? [],
    },
    { origin: 'the caller', values: override ?? {}, placeholders: [] },
  ];
  const winner: Record<string, (typeof layers)[number]> = {};
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer.values)) {
      if (v === undefined) continue;
      values[k] = structuredClone(v);
      origins[k] = layer.origin;
      winner[k] = layer;
    }
  }
  const problems: Problem[] = [];
  const secrets: string[] = [];
  for (const [param, layer] of Object.entries(winner)) {
    for (const ph of layer.placeholders) {
      if (ph.param !== param) continue;
      const value = env(ph.variable);
      if (value === undefined || value === '') {
        problems.push({
          ...ph.at,
          message: `init ${[param, ...ph.path].join('.')}: environment variable ${ph.variable} is ${value === '' ? 'empty' : 'not set'} (needed for the placeholder ${ph.text}); set it in your CI secrets or in .env at the repository root`,
        });
        continue;
      }
      secrets.push(value);
      if (ph.path.length === 0) values[param] = value;
      else setPath(values[param], ph.path, value);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { values, origins, secrets };
}

function setPath(target: unknown, path: Array<string | number>, value: unknown): void {
  let node = target as Record<string | number, unknown>;
  for (let i = 0; i < path.length - 1; i++) node = node[path[i]] as Record<string | number, unknown>;
  node[path[path.length - 1]] = value;
}

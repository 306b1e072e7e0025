/**
 * The one entry point: a flow path in, a validated, typed flow out (or one ConfigError listing
 * every problem of the file).
 * @module
 */
import { loadDag } from './dag-load.js';
import { loadFlex } from './flex-load.js';
import type { LoadedFlow } from './model.js';
import { loadPrompty } from './prompty.js';
import { displayPath, resolveFlowPath } from './resolve-path.js';

export interface LoadFlowOptions {
  /** Messages show paths relative to this folder (default: the current directory). */
  displayBase?: string;
  /** Run-time connection overrides by node (`connections: {node: {connection: c}}`): silence "llm node without connection". */
  connections?: Record<string, Record<string, unknown> | undefined>;
  /** Values for `${env:NAME}` in prompty front matter and flex samples (default: process.env). */
  env?: Record<string, string | undefined>;
  /** Prompty only: deep-merged over the front matter. */
  overrides?: Record<string, unknown>;
}

/**
 * Loads a flow folder or file (flow.dag.yaml, flow.flex.yaml, *.prompty). Throws ConfigError
 * (exit 2) with every problem at file:line:column; never anything else for bad user input.
 */
export function loadFlow(path: string, options: LoadFlowOptions = {}): LoadedFlow {
  const resolved = resolveFlowPath(path, options.displayBase);
  const displayFile = displayPath(resolved.file, options.displayBase);
  switch (resolved.kind) {
    case 'prompty':
      return loadPrompty(resolved.file, {
        env: options.env,
        overrides: options.overrides,
        displayBase: options.displayBase,
      });
    case 'flex':
      return loadFlex(resolved, { displayFile, env: options.env ?? process.env });
    case 'dag':
      return loadDag(resolved, { displayFile, connections: options.connections });
  }
}

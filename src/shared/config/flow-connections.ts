/**
 * The connection names a flow uses, where each is written, and their resolution at load: every name
 * is resolved by resolveConnectionName — the function the steps' runs then use through the
 * connections list — so a use case that validates finds every connection when it runs.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Problem, SourceLocation } from '../errors.js';
import type { FlowNode, LoadedFlow } from '../flow/index.js';
import { locate, readSource, type PathSegment, type SourceFile } from '../source.js';
import { connectionSecrets, describeFallback, resolveConnectionName, type Connection } from './connections.js';
import type { Environment } from './environment.js';

export interface ConnectionUse {
  name: string;
  /** Where the name is written (the node, the init value, the prompty's model configuration). */
  at: SourceLocation;
  /** Who uses it, for messages: `node summarize (llm)`. */
  user: string;
}

/** Python inputs that hold a connection by Prompt Flow's naming habit (`connection`, `conn`, `aoai_connection`). */
const connectionInput = /^(conn|connection)(_|$)|_(conn|connection)$/i;

/** Every connection name the flow itself writes, with its place. Names only known from Python signatures are not seen here. */
export function connectionUses(flow: LoadedFlow): ConnectionUse[] {
  const uses: ConnectionUse[] = [];
  if (flow.kind === 'dag') {
    const keyAt = dagKeyLocator(flow.file, flow.displayFile);
    flow.nodes.forEach((node) => {
      const index = ((flow.raw.nodes as { name?: unknown }[] | undefined) ?? []).findIndex(
        (n) => n?.name === node.name,
      );
      uses.push(...nodeUses(node, keyAt(['nodes', index, 'connection'])));
    });
    for (const nv of Object.values(flow.nodeVariants)) {
      for (const [id, node] of Object.entries(nv.variants))
        uses.push(...nodeUses(node, keyAt(['node_variants', nv.node, 'variants', id, 'node', 'connection'])));
    }
  } else if (flow.kind === 'flex') {
    for (const [key, def] of Object.entries(flow.init)) {
      const name = connectionOf(def.default);
      if (name) uses.push({ name, at: def.at, user: `init ${key}` });
    }
    uses.push(
      ...initFileUses(
        path.join(path.dirname(flow.file), 'init.json'),
        path.join(path.dirname(flow.displayFile), 'init.json'),
      ),
    );
  } else if (flow.kind === 'prompty') {
    const name = flow.model.configuration.connection;
    if (typeof name === 'string' && name)
      uses.push({
        name,
        at: lineOf(flow.file, flow.displayFile, /^[ \t]*connection[ \t]*:/m),
        user: 'model.configuration',
      });
  }
  return unique(uses);
}

/** Connection names in init values given in experiment.yaml (`init: {model_config: {connection: aoai}}`). */
export function initUses(
  init: Record<string, unknown> | undefined,
  source: SourceFile,
  at: PathSegment[],
): ConnectionUse[] {
  return Object.entries(init ?? {}).flatMap(([key, value]) => {
    const name = connectionOf(value);
    return name ? [{ name, at: locate(source, [...at, key, 'connection']), user: `init ${key}` }] : [];
  });
}

/**
 * Resolves each use; a name found only in the environment joins `connections` under that name.
 * An unresolved name is one problem at the place that names it.
 */
export function resolveConnectionUses(
  uses: ConnectionUse[],
  connections: Connection[],
  env: Environment,
  problems: Problem[],
  secrets: Set<string>,
): void {
  // One problem per missing name, at its first place; the other places are named in it.
  const missing = new Map<string, { first: ConnectionUse; others: string[] }>();
  for (const use of uses) {
    const connection = resolveConnectionName(use.name, connections, env.get);
    if (!connection) {
      const entry = missing.get(use.name);
      if (entry) entry.others.push(use.user);
      else missing.set(use.name, { first: use, others: [] });
      continue;
    }
    if (connections.includes(connection)) continue;
    connections.push(connection);
    for (const secret of connectionSecrets([connection])) secrets.add(secret);
  }
  for (const [name, { first, others }] of missing) {
    problems.push({
      ...first.at,
      message: `${first.user}: connection "${name}" is not defined: it is not in the connections of experiment.yaml, and the environment has none to stand in for it (looked for ${describeFallback()}); add it to connections in experiment.yaml, or set those variables in CI secrets or .env at the repository root${others.length ? `; also used by ${others.join(', ')}` : ''}`,
    });
  }
}

function nodeUses(node: FlowNode, connectionAt: SourceLocation | undefined): ConnectionUse[] {
  const user = `node ${node.name} (${node.type})`;
  const out: ConnectionUse[] = [];
  if (node.connection) out.push({ name: node.connection, at: connectionAt ?? node.at, user });
  for (const [input, assignment] of Object.entries(node.inputs)) {
    if (assignment.kind !== 'literal' || typeof assignment.value !== 'string' || !assignment.value) continue;
    const holdsConnection = input === 'connection' || (node.type === 'python' && connectionInput.test(input));
    if (holdsConnection) out.push({ name: assignment.value, at: assignment.at, user: `${user} input ${input}` });
  }
  return out;
}

/** Where a key of the flow file is written (the flow model keeps a node's place, not its `connection:` key's). */
function dagKeyLocator(file: string, display: string): (at: PathSegment[]) => SourceLocation | undefined {
  let source: SourceFile | undefined;
  try {
    source = readSource(file, display);
  } catch {
    source = undefined;
  }
  return (at) => {
    if (!source || at.includes(-1)) return undefined;
    const found = locate(source, at, 'key');
    return found.line === undefined ? undefined : found;
  };
}

function initFileUses(file: string, display: string): ConnectionUse[] {
  if (!existsSync(file)) return [];
  let source: SourceFile;
  try {
    source = readSource(file, display);
  } catch {
    return []; // a broken init.json is reported by whoever reads its values
  }
  const value = source.value;
  if (!value || typeof value !== 'object' || Array.isArray(value)) return [];
  return initUses(value as Record<string, unknown>, source, []);
}

/** `{connection: "aoai", ...}` (a model configuration) → "aoai". */
function connectionOf(value: unknown): string | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const name = (value as Record<string, unknown>).connection;
  return typeof name === 'string' && name ? name : undefined;
}

/** The first line matching `pattern` (anchored at a line start, no newlines in it). */
function lineOf(file: string, display: string, pattern: RegExp): SourceLocation {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { file: display };
  }
  const m = pattern.exec(text);
  if (!m) return { file: display };
  const line = text.slice(0, m.index).split('\n').length;
  return { file: display, line, column: m[0].length - m[0].trimStart().length + 1 };
}

function unique(uses: ConnectionUse[]): ConnectionUse[] {
  const seen = new Set<string>();
  return uses.filter((u) => {
    const key = `${u.name}@${u.at.file}:${u.at.line}:${u.at.column}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
}

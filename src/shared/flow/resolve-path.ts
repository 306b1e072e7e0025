/**
 * Which file a flow path means and what kind of flow it holds (§0).
 * @module
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { parseYaml } from '../source.js';
import type { ResolvedFlowPath } from './model.js';

const FLOW_FILE_NAMES = ['flow.dag.yaml', 'flow.dag.yml', 'flow.flex.yaml', 'flow.flex.yml'];
const FLOW_EXTENSIONS = ['.yaml', '.yml', '.prompty'];

/** A path as users should read it: relative to `base` (default: the current directory) when inside it. */
export function displayPath(absolutePath: string, base: string = process.cwd()): string {
  const rel = relative(base, absolutePath);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : absolutePath;
}

/**
 * Resolves a `--flow` path: a folder holding exactly one `flow.dag|flex.yaml|yml` (else exactly
 * one `*.prompty`), or a `.yaml`/`.yml`/`.prompty` file. A YAML with a top-level `entry:` is a
 * flex flow, whatever its name; a flex `code:` moves the working directory.
 */
export function resolveFlowPath(path: string, displayBase?: string): ResolvedFlowPath {
  const abs = resolve(path);
  const shown = displayPath(abs, displayBase);
  if (!existsSync(abs))
    throw ConfigError.at({ file: shown }, 'found no such file or folder, expected a flow folder or a flow file');
  const file = statSync(abs).isDirectory() ? flowFileInFolder(abs, shown) : abs;
  if (!FLOW_EXTENSIONS.some((ext) => file.endsWith(ext))) {
    throw ConfigError.at(
      { file: shown },
      `found a file that is not a flow file, expected a name ending with ${FLOW_EXTENSIONS.join(', ')}`,
    );
  }
  if (file.endsWith('.prompty')) return { kind: 'prompty', file, workingDir: dirname(file) };
  const top = topLevelOf(file);
  if (top === undefined) {
    // Unparsable YAML: decide by name so the loader can report the syntax error with its position.
    return { kind: /flow\.flex\.ya?ml$/.test(file) ? 'flex' : 'dag', file, workingDir: dirname(file) };
  }
  if (!('entry' in top)) return { kind: 'dag', file, workingDir: dirname(file) };
  const code = typeof top.code === 'string' && top.code !== '' ? resolve(dirname(file), top.code) : dirname(file);
  return { kind: 'flex', file, workingDir: code };
}

function flowFileInFolder(dir: string, shown: string): string {
  const yamls = FLOW_FILE_NAMES.filter((name) => existsSync(join(dir, name)));
  if (yamls.length > 1) {
    throw ConfigError.at({ file: shown }, `found several flow files (${yamls.join(', ')}), expected exactly one`);
  }
  if (yamls.length === 1) return join(dir, yamls[0]);
  const prompties = readdirSync(dir)
    .filter((name) => name.endsWith('.prompty'))
    .sort();
  if (prompties.length > 1) {
    throw ConfigError.at(
      { file: shown },
      `found several .prompty files (${prompties.join(', ')}) and no flow.dag.yaml or flow.flex.yaml, expected exactly one flow file`,
    );
  }
  if (prompties.length === 1) return join(dir, prompties[0]);
  throw ConfigError.at(
    { file: shown },
    `found no ${FLOW_FILE_NAMES.join(', ')} or *.prompty in this folder, expected exactly one flow file`,
  );
}

function topLevelOf(file: string): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const { source } = parseYaml(file, text);
  const value = source?.value;
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/**
 * User files parsed with positions: YAML (and JSON, a subset the yaml parser reads with the
 * same positions) as a document whose nodes can be located by path, so every problem names
 * file:line:column. Syntax errors become Problems, never exceptions.
 * @module
 */
import { readFileSync } from 'node:fs';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { ConfigError, type Problem, type SourceLocation } from './errors.js';

export type PathSegment = string | number;

export interface SourceFile {
  /** The path as the user should see it in messages (relative to the working directory when possible). */
  file: string;
  text: string;
  doc: Document.Parsed;
  lineCounter: LineCounter;
  /** The plain JavaScript value of the document (undefined for an empty file). */
  value: unknown;
}

/** Parse YAML text. Returns the problems of a broken file instead of throwing. */
export function parseYaml(file: string, text: string): { source?: SourceFile; problems: Problem[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, version: '1.2' });
  // Only the first syntax error: the ones after it are mostly its echoes.
  const problems: Problem[] = doc.errors.slice(0, 1).map((e) => {
    const pos = lineCounter.linePos(e.pos[0]);
    return { file, line: pos.line, column: pos.col, message: `invalid YAML: ${firstLine(e.message)}` };
  });
  if (problems.length > 0) return { problems };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    return { problems: [{ file, line: 1, column: 1, message: `invalid YAML: ${firstLine((e as Error).message)}` }] };
  }
  return { source: { file, text, doc, lineCounter, value }, problems: [] };
}

/** Parse JSON text strictly (JSON.parse decides what is valid), keeping YAML-style positions for later messages. */
export function parseJson(file: string, text: string): { source?: SourceFile; problems: Problem[] } {
  try {
    JSON.parse(text);
  } catch (e) {
    const message = (e as Error).message;
    const offset = /position (\d+)/.exec(message)?.[1];
    const { line, column } = offset === undefined ? lineColumnOfEnd(text) : lineColumnAt(text, Number(offset));
    return {
      problems: [
        {
          file,
          line,
          column,
          message: `invalid JSON: ${message.replace(/ in JSON at position \d+.*$/, '').replace(/^JSON\.parse: /, '')}`,
        },
      ],
    };
  }
  return parseYaml(file, text);
}

/** Read and parse a file by its extension (.json strictly, anything else as YAML). */
export function readSource(absolutePath: string, displayPath: string): SourceFile {
  let text: string;
  try {
    text = readFileSync(absolutePath, 'utf8');
  } catch (e) {
    throw ConfigError.at(
      { file: displayPath },
      `cannot read file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const { source, problems } = absolutePath.endsWith('.json')
    ? parseJson(displayPath, text)
    : parseYaml(displayPath, text);
  if (!source) throw new ConfigError(problems);
  return source;
}

/**
 * Where a path points in the file. `key` gives the position of the mapping key (best for
 * "unknown key" messages); otherwise the value's. Falls back to the nearest existing ancestor.
 */
export function locate(
  source: SourceFile,
  path: readonly PathSegment[],
  part: 'key' | 'value' = 'value',
): SourceLocation {
  let node: unknown = source.doc.contents;
  let best: number | undefined = offsetOf(node);
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && keyText(p.key) === String(seg));
      if (!pair) break;
      const isLast = i === path.length - 1;
      if (isLast && part === 'key') {
        best = offsetOf(pair.key) ?? best;
        node = undefined;
        break;
      }
      node = pair.value;
      best = offsetOf(node) ?? offsetOf(pair.key) ?? best;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
      best = offsetOf(node) ?? best;
    } else {
      break;
    }
  }
  const pos = source.lineCounter.linePos(best ?? 0);
  return { file: source.file, line: pos.line, column: pos.col };
}

/** `datasets[0].mappings.url` — how a path reads in messages. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${seg}` : seg;
  return out || '(top level)';
}

/** What a value is, in the words of a YAML user: "a list", "the number 3", "the text \"x\"". */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing (null)';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string')
    return `the text ${JSON.stringify(value.length > 40 ? value.slice(0, 37) + '...' : value)}`;
  if (typeof value === 'boolean') return `the boolean ${value}`;
  return `the number ${String(value)}`;
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}

function offsetOf(node: unknown): number | undefined {
  const range = (node as Node | undefined)?.range;
  return range ? range[0] : undefined;
}

function firstLine(message: string): string {
  return message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
}

function lineColumnAt(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

function lineColumnOfEnd(text: string): { line: number; column: number } {
  return lineColumnAt(text, text.length);
}

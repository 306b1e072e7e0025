/**
 * Loads a `.prompty` file (§5.2): YAML front matter between `---` lines, then a Jinja template.
 * Positions in the front matter are the file's real lines.
 * @module
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { ConfigError, type Problem } from '../errors.js';
import { formatPath, locate, parseYaml } from '../source.js';
import { dedupe, metadata, readInputs, readOutputs } from './dag-load.js';
import { deepMerge, isRecord, resolveRefs } from './file-refs.js';
import type { PromptyFlow, PromptyModel } from './model.js';
import { displayPath } from './resolve-path.js';

// Prompt Flow's pattern: the front matter group is greedy, so it runs to the LAST `---` line (§11.12).
const FRONT_MATTER = /-{3,}\n([\s\S]*)-{3,}\n([\s\S]*)/d;

export interface PromptyLoadOptions {
  /** Values for `${env:NAME}` (default: process.env). */
  env?: Record<string, string | undefined>;
  /** Deep-merged over the front matter after its references are resolved (like `Prompty.load(..., model=...)`). */
  overrides?: Record<string, unknown>;
  /** Messages show paths relative to this folder (default: the current directory). */
  displayBase?: string;
}

export function loadPrompty(path: string, options: PromptyLoadOptions = {}): PromptyFlow {
  const file = resolve(path);
  const shown = displayPath(file, options.displayBase);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw ConfigError.at(
      { file: shown },
      `cannot read file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  text = text.replace(/\r\n?/g, '\n'); // Python reads text files with universal newlines
  const m = FRONT_MATTER.exec(text);
  if (!m) {
    throw ConfigError.at(
      { file: shown, line: 1, column: 1 },
      'found no front matter, expected a "---" line, YAML settings, a "---" line, then the prompt template',
    );
  }
  const [frontStart] = m.indices![1];
  const [bodyStart] = m.indices![2];
  const frontLine = lineAt(text, frontStart);
  // Leading blank lines keep the YAML parser's line numbers equal to the file's.
  const { source, problems: yamlProblems } = parseYaml(shown, '\n'.repeat(frontLine - 1) + m[1]);
  if (!source) throw new ConfigError(greedyProblem(shown, text, frontStart, m[1]) ?? yamlProblems);
  const front = source.value ?? {};
  if (!isRecord(front))
    throw ConfigError.at(
      locate(source, []),
      `found ${Array.isArray(front) ? 'a list' : 'a single value'} as front matter, expected a mapping of prompty settings`,
    );

  const env = options.env ?? process.env;
  const problems: Problem[] = [];
  const unsetConfiguration: Problem[] = [];
  const ctx = {
    baseDir: dirname(file),
    env,
    problem: (p: Array<string | number>, message: string) =>
      problems.push({ ...locate(source, p), message: `${formatPath(p)}: ${message}` }),
    unsetEnv: (p: Array<string | number>, name: string) => {
      if (p[0] === 'model' && p[1] === 'configuration')
        unsetConfiguration.push({
          ...locate(source, p),
          message: `${formatPath(p)}: found \${env:${name}}, but the environment variable ${name} is not set; expected it set where the flow runs`,
        });
    },
  };
  let config = resolveRefs(front, ctx) as Record<string, unknown>;
  if (options.overrides) {
    const over = resolveRefs(options.overrides, {
      ...ctx,
      problem: (_p: unknown, message: string) => problems.push({ file: shown, message: `overrides: ${message}` }),
    });
    config = deepMerge(config, over as Record<string, unknown>);
  }
  const model = readModel(config.model, (p, message) => problems.push({ ...locate(source, ['model', ...p]), message }));

  const unique = dedupe(problems);
  if (unique.length > 0) throw new ConfigError(unique);
  const flow: PromptyFlow = {
    kind: 'prompty',
    file,
    displayFile: shown,
    workingDir: dirname(file),
    name: typeof config.name === 'string' ? config.name : basename(file, '.prompty'),
    ...metadata(config),
    warnings: [],
    raw: front,
    model,
    inputs: readInputs(source, config.inputs),
    outputs: readOutputs(source, config.outputs, false),
    template: m[2],
    templateLine: lineAt(text, bodyStart),
    templateEngine: typeof config.template === 'string' ? config.template : 'jinja2',
    frontMatter: config,
    ...(unsetConfiguration.length > 0 ? { unsetConfiguration } : {}),
  };
  if (config.sample !== undefined) flow.sample = config.sample;
  return flow;
}

function readModel(value: unknown, problem: (path: string[], message: string) => void): PromptyModel {
  const model: PromptyModel = { api: 'chat', configuration: {}, parameters: {}, response: 'first' };
  if (value === undefined || value === null) return model;
  if (!isRecord(value)) {
    problem(
      [],
      `model: found ${typeof value === 'string' ? 'text' : 'a non-mapping value'}, expected a mapping with api, configuration, parameters`,
    );
    return model;
  }
  if (value.api !== undefined) {
    if (value.api === 'chat' || value.api === 'completion') model.api = value.api;
    else problem(['api'], `model.api: found ${JSON.stringify(value.api)}, expected chat or completion`);
  }
  if (value.response !== undefined) {
    if (value.response === 'first' || value.response === 'all') model.response = value.response;
    else problem(['response'], `model.response: found ${JSON.stringify(value.response)}, expected first or all`);
  }
  for (const key of ['configuration', 'parameters'] as const) {
    const v = value[key];
    if (v === undefined || v === null) continue;
    if (isRecord(v)) model[key] = v;
    // Text may be a referenced file's content: say what it is, not what it holds.
    else
      problem(
        [key],
        `model.${key}: found ${typeof v === 'string' ? `text (${v.length} characters)` : JSON.stringify(v)}, expected a mapping`,
      );
  }
  return model;
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * A `---` line in the template body makes the front matter swallow the body up to it: the YAML
 * error that follows is only the symptom, so report the cause.
 */
function greedyProblem(file: string, text: string, frontStart: number, front: string): Problem[] | undefined {
  const inner = /^-{3,}$/m.exec(front);
  if (!inner) return undefined;
  const line = lineAt(text, frontStart + inner.index);
  return [
    {
      file,
      line,
      column: 1,
      message: `found another "---" line after the front matter; Prompty's front matter runs to the LAST "---" line, so the template text up to it was read as YAML. Expected exactly two "---" lines (reword this separator in the template)`,
    },
  ];
}

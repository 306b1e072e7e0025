/**
 * Loads a flow.flex.yaml (§5.1): a Python function or class entry plus optional signatures and
 * sample. The entry itself is inspected by the Python worker, not here.
 * @module
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ConfigError, type Problem } from '../errors.js';
import { checkSchema } from '../config/schema-check.js';
import { locate, readSource, type PathSegment, type SourceFile } from '../source.js';
import { connectionVariable, placeholderName } from '../config/environment.js';
import { dedupe, metadata, readInputs, readOutputs, sanitizedName } from './dag-load.js';
import { isRecord, resolveRefs } from './file-refs.js';
import { includeEntry, missingInclude, outsideFlow, outsideMessage } from './includes.js';
import type { FlexFlow, InitPlaceholder, ResolvedFlowPath } from './model.js';

/** Prompt Flow's entry pattern: `<module path>:<function or class>`. */
export const FLEX_ENTRY = /^[a-zA-Z0-9_.]+:[a-zA-Z0-9_]+$/;

export function loadFlex(
  resolved: ResolvedFlowPath,
  options: { displayFile: string; env: Record<string, string | undefined> },
): FlexFlow {
  const source = readSource(resolved.file, options.displayFile);
  const top = source.value;
  if (!isRecord(top))
    throw ConfigError.at(
      locate(source, []),
      `found ${top === undefined ? 'an empty file' : 'no mapping'}, expected a mapping with an entry key`,
    );
  const problems: Problem[] = checkSchema('flow.flex', top, () => source);
  const yamlDir = dirname(resolved.file);

  const entry = typeof top.entry === 'string' ? top.entry : '';
  if (typeof top.entry === 'string' && !FLEX_ENTRY.test(entry)) {
    problems.push({
      ...locate(source, ['entry']),
      message: `entry: found ${JSON.stringify(entry)}, expected <module>:<function or class> such as flow:ChatFlow (letters, digits, _ and . before the colon)`,
    });
  }
  if (typeof top.code === 'string' && !isDirectory(resolved.workingDir)) {
    problems.push({
      ...locate(source, ['code']),
      message: `code: found ${JSON.stringify(top.code)}, but no such folder exists; expected the code folder relative to ${basename(resolved.file)}`,
    });
  }
  const [entryModule = '', entryName = ''] = entry.split(':');
  const entryFile = join(resolved.workingDir, ...entryModule.split('.')) + '.py';

  const sample = resolveRefs(top.sample, {
    baseDir: yamlDir,
    env: options.env,
    problem: (path, message) =>
      problems.push({ ...locate(source, ['sample', ...path]), message: `sample: ${message}` }),
  });
  if (sample !== undefined && sample !== null && !isRecord(sample)) {
    problems.push({
      ...locate(source, ['sample']),
      message: `sample: found ${typeof sample === 'string' ? 'text' : 'a non-mapping value'}, expected a mapping with inputs and/or init`,
    });
  } else if (isRecord(sample)) {
    for (const key of Object.keys(sample)) {
      if (key !== 'inputs' && key !== 'init')
        problems.push({
          ...locate(source, ['sample', key], 'key'),
          message: `sample: found key ${JSON.stringify(key)}, expected only inputs and init`,
        });
    }
  }

  const includes = Array.isArray(top.additional_includes)
    ? top.additional_includes.flatMap((p, i) =>
        typeof p === 'string' ? [includeEntry(p, yamlDir, locate(source, ['additional_includes', i]))] : [],
      )
    : [];
  const codeOutside = typeof top.code === 'string' ? outsideFlow(resolved.workingDir, yamlDir, includes) : undefined;
  if (codeOutside)
    problems.push({ ...locate(source, ['code']), message: outsideMessage('code', top.code as string, codeOutside) });
  const entryOutside = !codeOutside && existsSync(entryFile) ? outsideFlow(entryFile, yamlDir, includes) : undefined;
  if (entryOutside)
    problems.push({ ...locate(source, ['entry']), message: outsideMessage('entry', entry, entryOutside) });
  for (const inc of includes) {
    const missing = missingInclude(inc);
    if (missing) problems.push(missing);
  }

  const initPlaceholders: InitPlaceholder[] = [];
  if (isRecord(top.init)) {
    for (const [name, def] of Object.entries(top.init)) {
      if (isRecord(def) && def.default !== undefined)
        findPlaceholders(def.default, name, [], source, ['init', name, 'default'], initPlaceholders);
    }
  }
  const initFile = readInitFile(yamlDir, options.displayFile, problems);

  const unique = dedupe(problems);
  if (unique.length > 0) throw new ConfigError(unique);
  const flow: FlexFlow = {
    kind: 'flex',
    file: resolved.file,
    displayFile: options.displayFile,
    workingDir: resolved.workingDir,
    name: typeof top.name === 'string' ? top.name : sanitizedName(basename(yamlDir)),
    ...metadata(top),
    warnings: [],
    raw: top,
    entry,
    entryModule,
    entryName,
    inputs: readInputs(source, top.inputs),
    outputs: readOutputs(source, top.outputs, false),
    init: readInputs(source, top.init, 'init'),
    environmentVariables:
      isRecord(top.environment_variables) || typeof top.environment_variables === 'string'
        ? top.environment_variables
        : undefined,
    environment: isRecord(top.environment) ? top.environment : undefined,
    additionalIncludes: includes,
    language: typeof top.language === 'string' ? top.language : 'python',
  };
  if (existsSync(entryFile)) flow.entryFile = entryFile;
  if (typeof top.entry === 'string') flow.entryAt = locate(source, ['entry']);
  if (initPlaceholders.length > 0) flow.initPlaceholders = initPlaceholders;
  if (initFile) flow.initFile = initFile;
  if (typeof top.code === 'string') flow.code = top.code;
  if (isRecord(sample)) flow.sample = sample as FlexFlow['sample'];
  return flow;
}

/** `init.json` beside the flow file: a JSON object of `__init__` arguments (the template's convention). */
function readInitFile(yamlDir: string, flowDisplay: string, problems: Problem[]): FlexFlow['initFile'] {
  const file = join(yamlDir, 'init.json');
  if (!existsSync(file)) return undefined;
  const displayFile = join(dirname(flowDisplay), 'init.json');
  let source: SourceFile;
  try {
    source = readSource(file, displayFile);
  } catch (e) {
    if (e instanceof ConfigError) {
      problems.push(...e.problems);
      return undefined;
    }
    throw e;
  }
  if (!isRecord(source.value)) {
    problems.push({
      ...locate(source, []),
      message: `found ${source.value === undefined ? 'an empty file' : 'no JSON object'}, expected a JSON object of __init__ arguments such as {"model_config": {"connection": "aoai", "azure_deployment": "gpt-35-turbo"}}`,
    });
    return undefined;
  }
  const placeholders: InitPlaceholder[] = [];
  for (const [name, value] of Object.entries(source.value))
    findPlaceholders(value, name, [], source, [name], placeholders);
  return { file, displayFile, values: source.value, placeholders };
}

/** Collects `${x}` and `${env:X}` strings (the whole value) inside an init value. */
function findPlaceholders(
  value: unknown,
  param: string,
  path: PathSegment[],
  source: SourceFile,
  at: PathSegment[],
  out: InitPlaceholder[],
): void {
  if (typeof value === 'string') {
    const env = /^\$\{env:([^{}]+)\}$/.exec(value.trim());
    const name = env ? undefined : placeholderName(value);
    if (env || (name !== undefined && !name.includes(':'))) {
      const variable = env ? env[1].trim() : connectionVariable(param, name!);
      out.push({ param, path: [...path], variable, text: value.trim(), at: locate(source, at) });
    }
    return;
  }
  if (Array.isArray(value)) value.forEach((v, i) => findPlaceholders(v, param, [...path, i], source, [...at, i], out));
  else if (isRecord(value))
    for (const [k, v] of Object.entries(value)) findPlaceholders(v, param, [...path, k], source, [...at, k], out);
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

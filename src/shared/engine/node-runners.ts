/**
 * One runner per node type (promptflow-formats.md §1.4): prompt, llm, python (code via the worker; package
 * tools: embedding and the HTTP tools natively, other installed tool packages via the worker), custom_llm (`promptflow.tools.llm.llm` and the vision tools). Literal
 * inputs are converted once, when the flow is prepared (§1.6); bypassed inputs are handled per §1.8.
 * @module
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Connection } from '../config/connections.js';
import { ConfigError } from '../errors.js';
import type { FlowNode } from '../flow/index.js';
import { checkTemplateVariables } from './template-clash.js';
import {
  compileTemplate,
  findImageInputs,
  preprocessImageTemplate,
  PromptResult,
  renderPromptNode,
  syntaxProblem,
  TemplateSyntaxError,
  type CompiledTemplate,
} from './template/index.js';
import {
  asLoadError,
  PythonCodeError,
  type PyParam,
  type PyToolInfo,
  type PythonWorkerPool,
  type Requirements,
} from './python-worker/index.js';
import { NATIVE_HTTP_TOOLS } from './http-tools.js';
import {
  llmParamTypes,
  providerOf,
  runLlmTool,
  templateOf,
  visionParamTypes,
  type ChatApi,
  type Provider,
} from './llm-tool.js';
import { requireConnection, type LlmService } from './llm-service.js';
import type { PlannedInput, RunContext } from './scheduler.js';
import { parseValue, ValueParseError } from './values.js';
import { ImageInputError, imagesFromWorker, loadImageInput, loadNestedImages, type ImageSink } from './images.js';
import type { InputImageContext } from './flow-inputs.js';

/** What every runner may use. */
export interface RunnerDeps {
  service: LlmService;
  connections: Record<string, Connection>;
  /** Used for a connection name that is not defined (e.g. a from_env connection); undefined → ConfigError. */
  fallbackConnection?: Connection;
  /** The flow's Python workers (started lazily). */
  pool(): PythonWorkerPool;
  flowFile: string;
  /** The flow's folder (files named by literal inputs, e.g. an assistant definition, are read from it). */
  workingDir?: string;
  /** The flow's requirements.txt, named in messages about modules that are not installed. */
  requirements?: Requirements;
  /** Where images come from (flow folder, data folder, message format, URL fetching) and where they are saved. */
  images?: InputImageContext & { sink?: ImageSink };
}

export type NodeRun = (
  inputs: Record<string, unknown>,
  bypassedInputs: string[] | undefined,
  ctx: RunContext,
) => Promise<unknown>;

const VISION_TOOLS: Record<string, Provider> = {
  'promptflow.tools.aoai_gpt4v.AzureOpenAI.chat': 'AzureOpenAI',
  'promptflow.tools.openai_gpt4v.OpenAI.chat': 'OpenAI',
};

/** Builds the runner of a node; converts its literal inputs in place (in `planned`). Load problems → ConfigError. */
export async function makeRunner(node: FlowNode, planned: PlannedInput[], deps: RunnerDeps): Promise<NodeRun> {
  const where = `${deps.flowFile} (node ${node.name})`;
  const escape = planned.filter((p) => p.kind === 'input').map((p) => p.name);
  switch (node.type) {
    case 'prompt': {
      const template = loadTemplate(node, false, { names: ['template'], tool: 'the prompt tool' });
      await loadImageLiterals(node, planned, deps, where);
      return async (inputs) => renderPromptNode(template, inputs, escape);
    }
    case 'llm': {
      const connection = requireConnection(deps.connections, node.connection, where, deps.fallbackConnection);
      const provider = providerOf(connection, where);
      deps.service.check(connection);
      const api: ChatApi = node.api === 'completion' ? 'completion' : 'chat';
      const types = llmParamTypes(provider, api);
      convertLiterals(planned, types, where);
      const template = loadTemplate(node, false, {
        names: ['connection', 'prompt', ...Object.keys(types)],
        tool: `${provider}.${api}`,
      });
      await loadImageLiterals(node, planned, deps, where);
      return llmRunner(deps, { provider, api, connection, types, template, escape, vision: false });
    }
    case 'custom_llm': {
      const tool = node.source?.tool ?? '';
      const vision = VISION_TOOLS[tool] ?? (tool === 'promptflow.tools.llm_vision.llm_vision' ? undefined : null);
      if (tool !== 'promptflow.tools.llm.llm' && vision === null && tool !== 'promptflow.tools.llm_vision.llm_vision') {
        // A custom LLM tool of an installed package: its PromptTemplate parameter receives the template file's text.
        return workerPackageRunner(node, planned, deps, where, tool, loadTemplateText(node));
      }
      const connName = literalOf(planned, 'connection') ?? node.connection;
      const connection = requireConnection(deps.connections, connName, where, deps.fallbackConnection);
      const provider = vision ?? providerOf(connection, where);
      deps.service.check(connection);
      const isVision = tool !== 'promptflow.tools.llm.llm';
      const apiLiteral = literalOf(planned, 'api');
      const api: ChatApi = apiLiteral === 'completion' ? 'completion' : 'chat';
      const types = isVision
        ? visionParamTypes(provider)
        : {
            ...llmParamTypes(provider, api),
            deployment_name: 'string',
            model: 'string',
            api: 'string',
            connection: 'connection',
            detail: 'string',
          };
      convertLiterals(planned, types, where);
      const template = loadTemplate(node, isVision, {
        names: isVision ? Object.keys(visionParamTypes(provider)) : LLM_TOOL_INPUTS,
        tool: `custom llm tool ${tool}`,
      });
      await loadImageLiterals(node, planned, deps, where);
      return llmRunner(deps, {
        provider,
        api,
        connection,
        types,
        template,
        escape,
        vision: isVision,
        calledFrom: isVision ? 'aoai-gpt4v-tool' : 'aoai-tool',
      });
    }
    case 'python': {
      if (node.source?.type === 'package') return packageToolRunner(node, planned, deps, where);
      const file = node.source!.resolvedPath!;
      let info: PyToolInfo;
      try {
        info = await deps.pool().inspect(file);
      } catch (e) {
        throw asLoadError(e, {
          subject: `node ${node.name}`,
          fallback: node.source?.at ?? node.at,
          requirements: deps.requirements,
        });
      }
      const params = new Map<string, PyParam>(info.params.map((p) => [p.name, p]));
      for (const p of info.initParams ?? []) params.set(p.name, p);
      await convertPyLiterals(planned, params, deps, where);
      return async (inputs, bypassed, ctx) => {
        if (bypassed) {
          // §1.8: a parameter with a default is omitted, otherwise None is passed.
          for (const name of bypassed) if (!params.get(name)?.hasDefault) inputs[name] = null;
        }
        for (const k in inputs) if (inputs[k] instanceof PromptResult) inputs[k] = (inputs[k] as PromptResult).text;
        const r = await deps
          .pool()
          .call(file, inputs, { node: node.name, aggregation: node.aggregation, context: ctx });
        if (r.metrics && ctx.metrics) Object.assign(ctx.metrics, r.metrics);
        return r.output !== null && typeof r.output === 'object' ? imagesFromWorker(r.output) : r.output;
      };
    }
  }
}

interface LlmSetup {
  provider: Provider;
  api: ChatApi;
  connection: Connection;
  types: Record<string, string>;
  template: CompiledTemplate;
  escape: string[];
  vision: boolean;
  calledFrom?: string;
}

function llmRunner(deps: RunnerDeps, s: LlmSetup): NodeRun {
  return async (inputs, bypassed, ctx) => {
    const params: Record<string, unknown> = {};
    const vars: Record<string, unknown> = {};
    let template = s.template;
    let escape = s.escape;
    for (const k in inputs) {
      if (k === 'prompt') {
        const p = inputs[k];
        template = templateOf(p instanceof PromptResult ? p.text : String(p ?? ''));
        continue;
      }
      if (k in s.types) params[k] = inputs[k];
      else vars[k] = inputs[k];
    }
    if (bypassed) for (const k of bypassed) if (!(k in s.types)) vars[k] = null;
    if (template !== s.template) escape = escape.filter((e) => e !== 'prompt');
    return runLlmTool(
      deps.service,
      {
        provider: s.provider,
        api: s.api,
        connection: s.connection,
        template,
        params,
        vars,
        inputsToEscape: escape,
        vision: s.vision,
        calledFrom: s.calledFrom,
      },
      ctx.usage,
      ctx.signal,
    );
  };
}

/**
 * A `source.type: package` node: promptflow-tools' embedding and HTTP tools natively; any other key is a tool
 * of a package installed in the flow's Python environment (`package_tools` entry points), run by the worker.
 */
async function packageToolRunner(
  node: FlowNode,
  planned: PlannedInput[],
  deps: RunnerDeps,
  where: string,
): Promise<NodeRun> {
  const tool = node.source?.tool ?? '';
  if (tool === 'promptflow.tools.embedding.embedding') return embeddingRunner(planned, deps, where);
  const native = NATIVE_HTTP_TOOLS[tool];
  if (native) {
    convertLiterals(planned, native.types, where);
    const connection = requireConnection(deps.connections, literalOf(planned, 'connection'), where);
    if (connection.type !== native.connectionType) {
      throw ConfigError.at(
        { file: where },
        `connection "${connection.name}" has type ${connection.type}; the ${native.label} tool needs a ${native.connectionType} (InvalidConnectionType)`,
      );
    }
    return async (inputs, _bypassed, ctx) => native.run(connection, inputs, ctx.signal);
  }
  return workerPackageRunner(node, planned, deps, where, tool);
}

/** A tool of a package installed in the flow's Python environment, run by the worker. `promptTemplate`: the text a
 *  custom LLM tool's PromptTemplate parameter receives. */
async function workerPackageRunner(
  node: FlowNode,
  planned: PlannedInput[],
  deps: RunnerDeps,
  where: string,
  tool: string,
  promptTemplate?: string,
): Promise<NodeRun> {
  let info: PyToolInfo;
  try {
    info = await deps.pool().inspectPackage(tool);
  } catch (e) {
    if (!(e instanceof PythonCodeError)) throw e;
    const hint = tool.startsWith('promptflow.tools.')
      ? ' (llmops runs promptflow.tools.embedding, .serpapi, .azure_content_safety and the llm tools itself; other promptflow-tools tools need the promptflow-tools package installed)'
      : '';
    throw ConfigError.at(
      node.source?.at ?? { file: deps.flowFile },
      `node ${node.name}: package tool ${JSON.stringify(tool)} cannot be loaded: ${e.info.message}${hint}`,
    );
  }
  const params = new Map<string, PyParam>(info.params.map((p) => [p.name, p]));
  for (const p of info.initParams ?? []) params.set(p.name, p);
  if (promptTemplate !== undefined) {
    const templateParam = [...params.values()].find((p) => p.type[0] === 'prompt_template');
    if (!templateParam)
      throw ConfigError.at(
        node.source?.at ?? { file: deps.flowFile },
        `node ${node.name}: custom_llm tool ${JSON.stringify(tool)} has no parameter typed PromptTemplate to receive the template ${node.source?.path ?? ''}`,
      );
    planned.push({ name: templateParam.name, kind: 'literal', value: promptTemplate });
  }
  convertPyLiterals(planned, params, deps, where);
  return async (inputs, bypassed, ctx) => {
    if (bypassed) for (const name of bypassed) if (!params.get(name)?.hasDefault) inputs[name] = null;
    for (const k in inputs) if (inputs[k] instanceof PromptResult) inputs[k] = (inputs[k] as PromptResult).text;
    const r = await deps
      .pool()
      .callPackage(tool, inputs, { node: node.name, aggregation: node.aggregation, context: ctx });
    if (r.metrics && ctx.metrics) Object.assign(ctx.metrics, r.metrics);
    return r.output;
  };
}

function embeddingRunner(planned: PlannedInput[], deps: RunnerDeps, where: string): NodeRun {
  convertLiterals(planned, { input: 'string', deployment_name: 'string', model: 'string' }, where);
  const connection = requireConnection(
    deps.connections,
    literalOf(planned, 'connection'),
    where,
    deps.fallbackConnection,
  );
  const provider = providerOf(connection, where);
  deps.service.check(connection);
  return async (inputs, _bypassed, ctx) => {
    const model = provider === 'AzureOpenAI' ? inputs.deployment_name : (inputs.model ?? 'text-embedding-ada-002');
    const input = inputs.input instanceof PromptResult ? inputs.input.text : inputs.input;
    const r = await deps.service.call('embedding', connection, { model, input }, ctx.usage, ctx.signal);
    return (r.response as { data: Array<{ embedding: number[] }> }).data[0].embedding;
  };
}

function literalOf(planned: PlannedInput[], name: string): unknown {
  const p = planned.find((x) => x.name === name);
  return p?.kind === 'literal' ? p.value : undefined;
}

/** §1.6: literal inputs that are "" or null are dropped (the tool's default applies); the others go to `convert`. */
function convertEachLiteral(planned: PlannedInput[], convert: (p: PlannedInput & { kind: 'literal' }) => void): void {
  for (let i = planned.length - 1; i >= 0; i--) {
    const p = planned[i];
    if (p.kind !== 'literal') continue;
    if (p.value === null || p.value === '') planned.splice(i, 1);
    else convert(p);
  }
}

/** §1.6 for built-in tools: parse declared literals by type. */
function convertLiterals(planned: PlannedInput[], types: Record<string, string>, where: string): void {
  convertEachLiteral(planned, (p) => {
    const t = types[p.name];
    if (t && t !== 'connection') p.value = parseLiteral(t, p.value, p.name, where);
  });
}

async function convertPyLiterals(
  planned: PlannedInput[],
  params: Map<string, PyParam>,
  deps: RunnerDeps,
  where: string,
): Promise<void> {
  const fetching: Array<Promise<void>> = [];
  convertEachLiteral(planned, (p) => {
    const param = params.get(p.name);
    if (!param) return;
    if (param.kind === 'connection') {
      requireConnection(deps.connections, p.value, where, deps.fallbackConnection);
      return;
    }
    if (param.type[0] === 'assistant_definition') {
      p.value = loadAssistantDefinition(p.value, deps, where);
      return;
    }
    if (param.kind !== 'value' || param.type.length !== 1) return;
    const given = p.value;
    let v = parseLiteral(param.type[0], given, p.name, where, deps.images?.workingDir);
    // Image dicts inside list/object literals are images too (Prompt Flow loads them recursively).
    if ((param.type[0] === 'list' || param.type[0] === 'object') && v !== null && typeof v === 'object') {
      const images = deps.images;
      try {
        v = loadNestedImages(v, {
          baseDir: images?.workingDir ?? process.cwd(),
          format: images?.format,
          fetchImpl: images?.fetchImpl,
          timeoutMs: images?.timeoutMs,
        });
      } catch (e) {
        throw literalError(e, given, param.type[0], p.name, where);
      }
    }
    if (v instanceof Promise)
      fetching.push(
        v.then(
          (x) => void (p.value = x),
          (e: unknown) => Promise.reject(literalError(e, given, param.type[0], p.name, where)),
        ),
      );
    else p.value = v;
  });
  await Promise.all(fetching);
}

/** An `AssistantDefinition` input names a YAML file in the flow's folder: the worker receives its content. */
function loadAssistantDefinition(value: unknown, deps: RunnerDeps, where: string): unknown {
  if (typeof value !== 'string') return value;
  const file = path.resolve(deps.workingDir ?? path.dirname(deps.flowFile), value);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw ConfigError.at(
      { file: where },
      `assistant definition ${JSON.stringify(value)}: file ${file} not found; expected a YAML file with model, instructions and tools`,
    );
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (e) {
    throw ConfigError.at({ file }, `assistant definition is not valid YAML: ${(e as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw ConfigError.at({ file }, 'assistant definition: found no mapping, expected model, instructions and tools');
  }
  return parsed;
}

/** `baseDir`: the flow folder, for image literals given as relative paths. */
function parseLiteral(type: string, value: unknown, name: string, where: string, baseDir?: string): unknown {
  try {
    return parseValue(type, value, baseDir);
  } catch (e) {
    throw literalError(e, value, type, name, where);
  }
}

function loadTemplateText(node: FlowNode): string {
  const file = node.source?.resolvedPath;
  if (!file) throw ConfigError.at(node.source?.at ?? node.at, `node ${node.name} has no template file`);
  const text = readFileSync(file, 'utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function literalError(e: unknown, value: unknown, type: string, name: string, where: string): unknown {
  if (e instanceof ValueParseError) {
    const why = type === 'image' && e.message ? `: ${e.message}` : '';
    return ConfigError.at(
      { file: where },
      `input "${name}": found ${JSON.stringify(value)}, expected a value of type ${type}${why} (NodeInputValidationError)`,
    );
  }
  if (e instanceof ImageInputError)
    return ConfigError.at(
      { file: where },
      `input "${name}": found ${JSON.stringify(value)}, expected an image: ${e.message} (NodeInputValidationError)`,
    );
  return e;
}

/**
 * Literal node inputs used as `![image]({{name}})` in the template are images (Prompt Flow's
 * `_load_images_for_prompt_tpl`): a path (relative to the flow folder), a URL or base64 data, loaded once.
 */
async function loadImageLiterals(
  node: FlowNode,
  planned: PlannedInput[],
  deps: RunnerDeps,
  where: string,
): Promise<void> {
  const file = node.source?.resolvedPath;
  if (!file) return;
  const names = findImageInputs(readFileSync(file, 'utf8'));
  for (const p of planned) {
    if (p.kind !== 'literal' || !names.includes(p.name) || p.value === null || p.value === '') continue;
    try {
      p.value = await loadImageInput(p.value, {
        baseDir: deps.images?.workingDir ?? process.cwd(),
        format: deps.images?.format,
        fetchImpl: deps.images?.fetchImpl,
        timeoutMs: deps.images?.timeoutMs,
      });
    } catch (e) {
      throw literalError(e, p.value, 'image', p.name, where);
    }
  }
}

/** Inputs of `promptflow.tools.llm.llm` (its tool YAML). */
const LLM_TOOL_INPUTS = [
  'connection',
  'api',
  'deployment_name',
  'model',
  'temperature',
  'top_p',
  'stop',
  'max_tokens',
  'presence_penalty',
  'response_format',
  'frequency_penalty',
  'logit_bias',
  'seed',
  'suffix',
  'logprobs',
  'echo',
  'best_of',
  'tools',
  'tool_choice',
];

/**
 * The node's template, compiled. `reserved`: the tool's own parameters, which template variables may not be
 * named after (Prompt Flow refuses such a node when the flow loads: "Invalid inputs {...} in prompt template").
 */
function loadTemplate(
  node: FlowNode,
  vision: boolean,
  reserved?: { names: readonly string[]; tool: string },
): CompiledTemplate {
  const file = node.source?.resolvedPath;
  if (!file) throw ConfigError.at(node.source?.at ?? node.at, `node ${node.name} has no template file`);
  let text = readFileSync(file, 'utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (reserved) checkTemplateVariables(node, file, text, reserved);
  if (vision) text = preprocessImageTemplate(text);
  try {
    return compileTemplate(text);
  } catch (e) {
    if (e instanceof TemplateSyntaxError) throw new ConfigError([syntaxProblem(e, file)]);
    throw e;
  }
}

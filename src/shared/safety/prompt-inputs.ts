/**
 * Which text inputs of a flow reach a prompt, so red-team attacks go where an attacker's text would, and not into
 * a deployment name, an id or a setting (the flow would then fail, or the attack would measure nothing).
 *
 * An input reaches a prompt when:
 * - it is the chat input (`is_chat_input`: the user's message), or
 * - a DAG flow's llm or prompt node (any variant) renders it: a node input that is a template variable, not one
 *   of the LLM tool's parameters (deployment_name, model, temperature...), or a prompty flow's template uses it;
 * - otherwise, where its use is in the flow's own code (python nodes, a flex entry, an http target's body), when
 *   its name does not read as configuration (deployment, model, connection, endpoint, url, id, key, version,
 *   config, path...) and no llm node takes it as one of its parameters.
 * @module
 */
import { llmParamTypes, visionParamTypes } from '../engine/llm-tool.js';
import type { FlowNode, LoadedFlow } from '../flow/model.js';

export interface PromptInputs {
  /** Text inputs that reach a prompt, in the flow's order. */
  prompt: string[];
  /** Text inputs left out, each with why. */
  left: { input: string; why: string }[];
}

/** The LLM tools' own parameters: a node input so named is sent to the API, never rendered into the prompt. */
const LLM_PARAMETERS = new Set([
  ...Object.keys(llmParamTypes('AzureOpenAI', 'chat')),
  ...Object.keys(llmParamTypes('OpenAI', 'chat')),
  ...Object.keys(llmParamTypes('AzureOpenAI', 'completion')),
  ...Object.keys(visionParamTypes('AzureOpenAI')),
  ...Object.keys(visionParamTypes('OpenAI')),
  'connection',
  'api',
]);

/** Words that make a name read as configuration rather than text a user writes. */
const CONFIGURATION_WORDS = new Set([
  'deployment',
  'model',
  'engine',
  'connection',
  'endpoint',
  'url',
  'uri',
  'host',
  'port',
  'id',
  'ids',
  'uuid',
  'guid',
  'key',
  'api',
  'version',
  'config',
  'configuration',
  'settings',
  'temperature',
  'tokens',
  'seed',
  'path',
  'dir',
  'folder',
  'file',
  'filename',
  'index',
  'region',
  'env',
  'environment',
]);

/** The name's words: snake_case, kebab-case and camelCase split, lower-cased. */
function wordsOf(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

export function readsAsConfiguration(name: string): boolean {
  return wordsOf(name).some((w) => CONFIGURATION_WORDS.has(w));
}

/** Every node of a DAG flow, each variant's too (an input any variant renders is attacked). */
function allNodes(flow: LoadedFlow): FlowNode[] {
  if (flow.kind !== 'dag') return [];
  return [...flow.nodes, ...Object.values(flow.nodeVariants).flatMap((v) => Object.values(v.variants))];
}

/** A Jinja expression or statement of `template` naming `name`. */
function templateUses(template: string, name: string): boolean {
  const word = new RegExp(`(^|[^\\w.])${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`);
  for (const m of template.matchAll(/\{\{([\s\S]*?)\}\}|\{%([\s\S]*?)%\}/g)) if (word.test(m[1] ?? m[2])) return true;
  return false;
}

export function promptInputs(flow: LoadedFlow): PromptInputs {
  const defs = Object.values(flow.inputs);
  const text = defs.filter((d) => (d.type ?? 'string') === 'string' && !d.isChatHistory);
  const rendered = new Set<string>();
  const asParameter = new Set<string>();
  for (const node of allNodes(flow)) {
    if (node.type !== 'llm' && node.type !== 'prompt') continue;
    for (const [name, value] of Object.entries(node.inputs)) {
      if (value.kind !== 'reference' || value.ref.kind !== 'flow_input') continue;
      if (node.type === 'llm' && LLM_PARAMETERS.has(name)) asParameter.add(value.ref.input);
      else rendered.add(value.ref.input);
    }
  }
  if (flow.kind === 'prompty') for (const d of defs) if (templateUses(flow.template, d.name)) rendered.add(d.name);
  const prompt: string[] = [];
  const left: PromptInputs['left'] = [];
  for (const d of text) {
    if (d.isChatInput || rendered.has(d.name)) prompt.push(d.name);
    else if (asParameter.has(d.name)) left.push({ input: d.name, why: 'an llm node takes it as a parameter' });
    else if (flow.kind === 'prompty') left.push({ input: d.name, why: 'the prompty template does not use it' });
    else if (readsAsConfiguration(d.name)) left.push({ input: d.name, why: 'its name reads as configuration' });
    else prompt.push(d.name);
  }
  return { prompt, left };
}

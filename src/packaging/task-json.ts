/**
 * task.json for each step's Azure DevOps task, from the step declarations
 * (fields: azure-pipelines-tasks "docs/task.json documentation.md" and tasks.schema.json).
 * @module
 */
import { camel, type InputSpec } from '../shared/steps/declare.js';
import { ADO_SERVICE_CONNECTION_INPUT, adoHostInputs } from './host-inputs.js';
import { TASK_BUNDLE } from './layout.js';
import type { PackagedStep } from './steps.js';
import { uuidV5 } from './uuid.js';

export interface TaskInput {
  name: string;
  type: string;
  label: string;
  required: boolean;
  defaultValue?: string;
  helpMarkDown: string;
  options?: Record<string, string>;
  properties?: Record<string, string>;
}

export interface TaskJson {
  $schema: string;
  id: string;
  name: string;
  friendlyName: string;
  description: string;
  helpMarkDown: string;
  category: string;
  visibility: string[];
  author: string;
  version: { Major: number; Minor: number; Patch: number };
  minimumAgentVersion: string;
  instanceNameFormat: string;
  inputs: TaskInput[];
  outputVariables: { name: string; description: string }[];
  execution: Record<'Node24', { target: string; argumentFormat: string }>;
}

/**
 * Node24 is the only handler: our dependencies (the Azure SDK among them) need Node >= 22, so the
 * Node20_1 handler would run the bundle on a Node it does not support. 4.265.1 is the agent that
 * guarantees the Node24 handler (azure-pipelines-tasks docs/migrateNode24.md).
 */
export const MINIMUM_AGENT_VERSION = '4.265.1';

/** `register-data` → `LlmopsRegisterData`: the YAML name (`LlmopsRegisterData@0`), no spaces. */
export function taskName(step: string): string {
  return (
    'Llmops' +
    step
      .split('-')
      .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
      .join('')
  );
}

/** The task id: a v5 UUID of the step name, so regenerating never changes it. */
export function taskId(step: string): string {
  return uuidV5(`llmops/ado-task/${step}`);
}

/** The Azure DevOps input type of a declared input. Numbers have no ADO type: strings, checked in code. */
function adoType(input: InputSpec): string {
  if (input.name === ADO_SERVICE_CONNECTION_INPUT) return 'connectedService:AzureRM';
  switch (input.type) {
    case 'boolean':
      return 'boolean';
    case 'choice':
      return 'pickList';
    case 'path':
      return 'filePath';
    default:
      return 'string';
  }
}

function taskInput(input: InputSpec): TaskInput {
  const out: TaskInput = {
    name: camel(input.name),
    type: adoType(input),
    label: input.name,
    required: Boolean(input.required),
    helpMarkDown: input.description,
  };
  if (input.default !== undefined) out.defaultValue = input.default;
  if (input.choices) out.options = Object.fromEntries(input.choices.map((c) => [c, c]));
  return out;
}

/** One task's manifest. `version` is the package version: Azure DevOps needs it to grow on every release. */
export function taskJson({ step, category }: PackagedStep, version: string): TaskJson {
  const [Major, Minor, Patch] = version.split('.').map((n) => Number.parseInt(n, 10));
  const inputs = step.inputs.map(taskInput);
  for (const i of adoHostInputs) if (!inputs.some((x) => x.name === camel(i.name))) inputs.push(taskInput(i));
  const first = step.inputs.find((i) => i.required);
  const target = { target: TASK_BUNDLE, argumentFormat: '' };
  return {
    $schema: 'https://raw.githubusercontent.com/Microsoft/azure-pipelines-task-lib/master/tasks.schema.json',
    id: taskId(step.name),
    name: taskName(step.name),
    friendlyName: `LLMOps ${step.name}`,
    description: step.description,
    helpMarkDown: `Part of the LLMOps extension: \`llmops ${step.name}\` as a pipeline task. Exit codes map to the task result: 1 a quality gate failed, 2 invalid input, 3 an outside service failed.`,
    category,
    visibility: ['Build', 'Release'],
    author: 'llmops',
    version: { Major, Minor, Patch },
    minimumAgentVersion: MINIMUM_AGENT_VERSION,
    instanceNameFormat: first ? `LLMOps ${step.name} $(${camel(first.name)})` : `LLMOps ${step.name}`,
    inputs,
    // Output variable names: letters, digits, '.' and '_' only, so kebab names become camelCase.
    outputVariables: step.outputs.map((o) => ({ name: camel(o.name), description: o.description })),
    execution: { Node24: target },
  };
}

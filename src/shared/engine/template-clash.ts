/**
 * Template variables named like a parameter of the node's tool (promptflow-formats.md §2.1): Prompt Flow
 * refuses the node when the flow loads, since the value would go to the tool, not the template (an llm
 * template using `{{temperature}}`, a prompt template using `{{template}}`).
 * @module
 */
import { ConfigError } from '../errors.js';
import type { FlowNode } from '../flow/index.js';
import { findTemplateVariables, TemplateSyntaxError } from './template/index.js';

/** Throws a ConfigError at the node's `source` (and naming the template file) when a variable clashes. */
export function checkTemplateVariables(
  node: FlowNode,
  file: string,
  text: string,
  reserved: { names: readonly string[]; tool: string },
): void {
  let names: string[];
  try {
    names = findTemplateVariables(text).map((v) => v.name);
  } catch (e) {
    if (e instanceof TemplateSyntaxError) return; // compiling reports it with its position
    throw e;
  }
  const clash = names.filter((n) => reserved.names.includes(n));
  if (clash.length === 0) return;
  const list = clash.map((n) => `'${n}'`).join(', ');
  throw ConfigError.at(
    node.source?.at ?? node.at,
    `node ${node.name}: template ${file} uses the variable${clash.length > 1 ? 's' : ''} ${list}, which ${clash.length > 1 ? 'are parameters' : 'is a parameter'} of ${reserved.tool}; expected other names (rename ${clash.length > 1 ? 'them' : 'it'} in the template and in the node's inputs). Prompt Flow: Invalid inputs {${list}} in prompt template of node ${node.name}.`,
  );
}

/**
 * Which flow a configured path names (promptflow-formats.md §0): a folder with exactly one
 * flow.dag.yaml / flow.flex.yaml (.yml), or exactly one .prompty; or such a file itself.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { FlowKind } from './types.js';

const flowFileNames = ['flow.dag.yaml', 'flow.dag.yml', 'flow.flex.yaml', 'flow.flex.yml'];

export function findFlowFile(target: string): { file: string; kind: FlowKind } | { error: string } {
  if (!existsSync(target)) return { error: `flow not found: ${target} does not exist (expected a flow folder or a .prompty file)` };
  if (statSync(target).isFile()) {
    if (target.endsWith('.prompty')) return { file: target, kind: 'prompty' };
    if (/\.ya?ml$/.test(target)) return { file: target, kind: kindOfYaml(target) };
    return { error: `${target} is not a flow: expected a folder, a flow YAML file or a .prompty file` };
  }
  const entries = readdirSync(target);
  const yamls = flowFileNames.filter((n) => entries.includes(n));
  if (yamls.length > 1) return { error: `${target} holds several flow files (${yamls.join(', ')}), expected exactly one` };
  if (yamls.length === 1) {
    const file = path.join(target, yamls[0]);
    return { file, kind: kindOfYaml(file) };
  }
  const prompties = entries.filter((n) => n.endsWith('.prompty'));
  if (prompties.length === 1) return { file: path.join(target, prompties[0]), kind: 'prompty' };
  if (prompties.length > 1) return { error: `${target} holds several .prompty files (${prompties.join(', ')}) and no flow.dag.yaml, expected exactly one` };
  return { error: `${target} holds no flow: expected flow.dag.yaml, flow.flex.yaml or one .prompty file` };
}

/** Flex vs DAG is decided by content: a top-level `entry:` key makes a flex flow (§0). */
function kindOfYaml(file: string): FlowKind {
  return /^entry\s*:/m.test(readFileSync(file, 'utf8')) ? 'flex' : 'dag';
}

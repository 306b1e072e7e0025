/**
 * Turns the node mappings of a flow.dag.yaml into typed FlowNodes (with positions) and checks
 * what a single node needs: a type, its source file, its connection.
 * @module
 */
import type { Problem } from '../errors.js';
import { locate, type PathSegment, type SourceFile } from '../source.js';
import { isRecord } from './file-refs.js';
import { nodeLabel } from './dag-graph.js';
import { findFlowFile, outsideFlow, outsideMessage } from './includes.js';
import type { FlowNode, IncludeEntry, InputAssignment, NodeSource, NodeType, SourceType } from './model.js';
import { parseAssignment } from './reference.js';
import { keepYamlFloats } from './yaml-floats.js';

export const NODE_TYPES: readonly NodeType[] = ['llm', 'prompt', 'python', 'custom_llm'];

/** A typed node from its mapping at `path` in the file. `name` overrides (variant bodies carry no name). */
export function buildNode(
  source: SourceFile,
  raw: Record<string, unknown>,
  path: PathSegment[],
  name: string,
): FlowNode {
  const inputs: Record<string, InputAssignment> = {};
  if (isRecord(raw.inputs)) {
    for (const [key, value] of Object.entries(raw.inputs))
      inputs[key] = parseAssignment(
        keepYamlFloats(source, [...path, 'inputs', key], value),
        locate(source, [...path, 'inputs', key]),
      );
  }
  const node: FlowNode = {
    name,
    type: raw.type as NodeType,
    inputs,
    aggregation: raw.aggregation === true || raw.reduce === true,
    useVariants: raw.use_variants === true,
    enableCache: raw.enable_cache === true,
    raw,
    at: typeof raw.name === 'string' ? locate(source, [...path, 'name']) : locate(source, path),
  };
  for (const key of ['connection', 'api', 'provider', 'module'] as const) {
    if (typeof raw[key] === 'string') node[key] = raw[key] as string;
  }
  if (isRecord(raw.source)) {
    const s = raw.source;
    const src: NodeSource = {
      type: (typeof s.type === 'string' ? s.type : 'code') as SourceType,
      at: locate(source, [...path, 'source']),
    };
    if (typeof s.path === 'string') src.path = s.path;
    if (typeof s.tool === 'string') src.tool = s.tool;
    node.source = src;
  }
  if (isRecord(raw.activate) && 'when' in raw.activate) {
    node.activate = {
      when: parseAssignment(raw.activate.when, locate(source, [...path, 'activate', 'when'])),
      is: raw.activate.is,
      at: locate(source, [...path, 'activate']),
    };
  }
  return node;
}

export interface NodeCheckContext {
  source: SourceFile;
  workingDir: string;
  includes: readonly IncludeEntry[];
  /** Run-time connection overrides by node (`connections: {node: {connection: c}}`). */
  connections?: Record<string, Record<string, unknown> | undefined>;
}

/**
 * What one node needs on its own. Fills `source.resolvedPath`. Returns errors and warnings;
 * `path` is where the node sits in the file (for positions of keys it lacks).
 */
export function checkNode(
  node: FlowNode,
  path: PathSegment[],
  ctx: NodeCheckContext,
): { problems: Problem[]; warnings: Problem[] } {
  const problems: Problem[] = [];
  const warnings: Problem[] = [];
  const label = nodeLabel(node);
  if (node.raw.type === undefined) {
    problems.push({ ...node.at, message: `${label}: found no type, expected one of: ${NODE_TYPES.join(', ')}` });
    return { problems, warnings };
  }
  if (!NODE_TYPES.includes(node.type)) return { problems, warnings }; // the schema already said so
  const sourceType = node.source?.type ?? 'code';
  const needsPath =
    node.type === 'llm' || node.type === 'prompt' || sourceType === 'code' || sourceType === 'package_with_prompt';
  const needsTool = sourceType === 'package' || sourceType === 'package_with_prompt';
  if (needsPath && node.source?.path === undefined) {
    const where = node.source ? node.source.at : node.at;
    problems.push({
      ...where,
      message: `${label} (type ${node.type}): found no source.path, expected the node's ${node.type === 'python' ? 'Python' : 'template'} file (source: {type: ${sourceType}, path: <file>})`,
    });
  } else if (node.source?.path !== undefined) {
    const resolved = findFlowFile(ctx.workingDir, ctx.includes, node.source.path);
    const outside = resolved ? outsideFlow(resolved, ctx.workingDir, ctx.includes) : undefined;
    if (outside)
      problems.push({
        ...locate(ctx.source, [...path, 'source', 'path']),
        message: outsideMessage(`${label} source.path`, node.source.path, outside),
      });
    else if (resolved) node.source.resolvedPath = resolved;
    else {
      problems.push({
        ...locate(ctx.source, [...path, 'source', 'path']),
        message: `${label} source.path: found ${JSON.stringify(node.source.path)}, but no such file exists; expected a file relative to the flow folder or copied in by additional_includes`,
      });
    }
  }
  if (needsTool && node.source?.tool === undefined) {
    problems.push({
      ...(node.source?.at ?? node.at),
      message: `${label}: found source.type ${sourceType} without source.tool, expected a package tool key such as promptflow.tools.embedding.embedding`,
    });
  }
  // Prompt Flow calls the tool <provider>.<api>: another api is no tool at all, never a chat call in disguise.
  if (node.type === 'llm' && node.api !== undefined && node.api !== 'chat' && node.api !== 'completion') {
    problems.push({
      ...locate(ctx.source, [...path, 'api']),
      message: `${label} (type llm) api: found ${JSON.stringify(node.api)}, expected chat or completion`,
    });
  }
  if (node.type === 'llm' && node.connection === undefined && ctx.connections?.[node.name]?.connection === undefined) {
    warnings.push({
      ...node.at,
      message: `${label} (type llm): found no connection, expected one in the flow or supplied by the run (connections.${node.name}.connection)`,
    });
  }
  return { problems, warnings };
}

/**
 * Loads a flow.dag.yaml into a DagFlow: schema check, typed model with positions, node checks,
 * variants, graph rules. Every problem of the file is reported in one ConfigError.
 * @module
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, resolve as resolvePath } from 'node:path';
import { ConfigError, type Problem } from '../errors.js';
import { checkSchema } from '../config/schema-check.js';
import { locate, readSource, type SourceFile } from '../source.js';
import { checkGraph } from './dag-graph.js';
import { buildNode, checkNode, type NodeCheckContext } from './dag-nodes.js';
import { isRecord } from './file-refs.js';
import { includeEntry, missingInclude } from './includes.js';
import type {
  DagFlow,
  FlowInputDef,
  FlowNode,
  FlowOutputDef,
  IncludeEntry,
  NodeVariants,
  ResolvedFlowPath,
} from './model.js';
import { parseAssignment } from './reference.js';
import { selectVariantNodes } from './variants.js';
import { keepYamlFloats } from './yaml-floats.js';

export interface DagLoadOptions {
  displayFile: string;
  connections?: NodeCheckContext['connections'];
}

export function loadDag(resolved: ResolvedFlowPath, options: DagLoadOptions): DagFlow {
  const source = readSource(resolved.file, options.displayFile);
  const top = source.value;
  if (!isRecord(top)) {
    throw ConfigError.at(
      locate(source, []),
      `found ${top === undefined ? 'an empty file' : describeTop(top)}, expected a mapping with inputs, outputs and nodes`,
    );
  }
  const problems: Problem[] = checkSchema('flow.dag', top, () => source);
  const warnings: Problem[] = [];

  const inputsOk = top.inputs === undefined || top.inputs === null || isRecord(top.inputs);
  const inputs = readInputs(source, top.inputs);
  warnings.push(...imageDefaultWarnings(source, inputs, resolved.workingDir));
  const outputs = readOutputs(source, top.outputs);
  const includes: IncludeEntry[] = Array.isArray(top.additional_includes)
    ? top.additional_includes.flatMap((p, i) =>
        typeof p === 'string'
          ? [includeEntry(p, dirname(resolved.file), locate(source, ['additional_includes', i]))]
          : [],
      )
    : [];
  for (const inc of includes) {
    const missing = missingInclude(inc);
    if (missing) problems.push(missing);
  }
  const ctx: NodeCheckContext = { source, workingDir: resolved.workingDir, includes, connections: options.connections };

  const written: Array<{ node: FlowNode; index: number }> = [];
  if (Array.isArray(top.nodes)) {
    top.nodes.forEach((raw, index) => {
      if (isRecord(raw) && typeof raw.name === 'string')
        written.push({ node: buildNode(source, raw, ['nodes', index], raw.name), index });
    });
  }
  const nodeVariants = readNodeVariants(source, top.node_variants, problems);

  // Placeholders take their default variant's body; nodes that cannot are left out of the graph checks.
  const usable: FlowNode[] = [];
  for (const { node, index } of written) {
    if (!node.useVariants) {
      const r = checkNode(node, ['nodes', index], ctx);
      problems.push(...r.problems);
      warnings.push(...r.warnings);
      usable.push(node);
      continue;
    }
    const nv = nodeVariants[node.name];
    if (nv?.variants[nv.defaultVariantId]) {
      usable.push(node);
      continue;
    }
    if (!nv) {
      problems.push({
        ...node.at,
        message: `node ${JSON.stringify(node.name)}: found use_variants: true, but node_variants has no entry ${JSON.stringify(node.name)}; expected node_variants.${node.name} with default_variant_id and variants`,
      });
    }
    // Keep the name in the graph so references to it are not reported as missing too.
    usable.push({ ...node, useVariants: false });
  }
  for (const nv of Object.values(nodeVariants)) {
    if (!written.some((w) => w.node.name === nv.node && w.node.useVariants)) continue;
    for (const vid of nv.variantIds) {
      const r = checkNode(nv.variants[vid], ['node_variants', nv.node, 'variants', vid, 'node'], ctx);
      problems.push(...r.problems);
      warnings.push(...r.warnings);
    }
  }

  const defaults = Object.fromEntries(
    usable.filter((n) => n.useVariants).map((n) => [n.name, nodeVariants[n.name].defaultVariantId]),
  );
  const nodes = selectVariantNodes(usable, nodeVariants, defaults);
  const graph = checkGraph(nodes, inputsOk ? inputs : undefined, outputs);
  problems.push(...graph.problems);
  warnings.push(...graph.warnings);
  // Each non-default variant must also fit the graph (Prompt Flow tunes one node per run).
  for (const [node, nv] of Object.entries(nodeVariants)) {
    if (!(node in defaults)) continue;
    for (const vid of nv.variantIds) {
      if (vid === nv.defaultVariantId) continue;
      const swapped = selectVariantNodes(usable, nodeVariants, { ...defaults, [node]: vid });
      problems.push(...checkGraph(swapped, inputsOk ? inputs : undefined, outputs).problems);
    }
  }
  for (const name of graph.droppedOutputs) delete outputs[name];

  const unique = dedupe(problems);
  if (unique.length > 0) throw new ConfigError(unique);
  return {
    kind: 'dag',
    file: resolved.file,
    displayFile: options.displayFile,
    workingDir: resolved.workingDir,
    name: typeof top.name === 'string' ? top.name : sanitizedName(basename(dirname(resolved.file))),
    ...metadata(top),
    warnings: dedupe(warnings),
    raw: top,
    inputs,
    outputs,
    nodes,
    nodeVariants,
    order: graph.order,
    selection: defaults,
    environmentVariables:
      isRecord(top.environment_variables) || typeof top.environment_variables === 'string'
        ? top.environment_variables
        : undefined,
    environment: isRecord(top.environment) ? top.environment : undefined,
    additionalIncludes: includes,
    language: typeof top.language === 'string' ? top.language : 'python',
    messageFormat: typeof top.message_format === 'string' ? top.message_format : 'basic',
    id: typeof top.id === 'string' ? top.id : 'default_flow_id',
  };
}

/**
 * An `image` input whose default cannot be read (an empty text, a missing file, a folder): Prompt Flow loads
 * the flow and fails every line that does not give the input, so this is a warning, not an error.
 */
function imageDefaultWarnings(source: SourceFile, inputs: Record<string, FlowInputDef>, workingDir: string): Problem[] {
  const out: Problem[] = [];
  for (const def of Object.values(inputs)) {
    if (def.type !== 'image' || !def.hasDefault) continue;
    let path = def.default;
    if (isRecord(path) && Object.keys(path).length === 1 && /^data:image\/.*;path$/.test(Object.keys(path)[0]))
      path = Object.values(path)[0];
    else if (
      typeof path !== 'string' ||
      /^(https?:|data:)/i.test(path) ||
      (path.length >= 64 && /^[A-Za-z0-9+/=]+$/.test(path))
    )
      continue;
    const at = locate(source, ['inputs', def.name, 'default']);
    const where = `inputs.${def.name}.default`;
    if (typeof path !== 'string' || path.trim() === '') {
      out.push({
        ...at,
        message: `${where}: found ${path === '' ? 'an empty text' : JSON.stringify(path)}, expected an image (a file path relative to the flow folder, a URL or base64 data); every line that does not give ${def.name} will fail`,
      });
      continue;
    }
    const file = resolvePath(workingDir, path);
    const kind = existsSync(file) ? (statSync(file).isDirectory() ? 'folder' : 'file') : 'missing';
    if (kind !== 'file')
      out.push({
        ...at,
        message: `${where}: found ${JSON.stringify(path)}, ${kind === 'folder' ? 'a folder' : 'but no such file exists'}; expected an image file relative to the flow folder; every line that does not give ${def.name} will fail`,
      });
  }
  return out;
}

/** Declared inputs (flow inputs, or a flex/prompty signature). Malformed entries still count as declared. */
export function readInputs(source: SourceFile, value: unknown, section = 'inputs'): Record<string, FlowInputDef> {
  const out: Record<string, FlowInputDef> = {};
  if (!isRecord(value)) return out;
  for (const [name, def] of Object.entries(value)) {
    const d = isRecord(def) ? def : {};
    const input: FlowInputDef = {
      name,
      hasDefault: d.default !== undefined && d.default !== null,
      isChatInput: d.is_chat_input === true,
      at: locate(source, [section, name], 'key'),
    };
    if (typeof d.type === 'string') input.type = d.type;
    if (input.hasDefault) input.default = keepYamlFloats(source, [section, name, 'default'], d.default);
    if (typeof d.description === 'string') input.description = d.description;
    if (Array.isArray(d.enum)) input.enum = d.enum;
    if (typeof d.is_chat_history === 'boolean') input.isChatHistory = d.is_chat_history;
    out[name] = input;
  }
  return out;
}

/** Declared outputs. `withReference` parses each `reference` (DAG flows). */
export function readOutputs(source: SourceFile, value: unknown, withReference = true): Record<string, FlowOutputDef> {
  const out: Record<string, FlowOutputDef> = {};
  if (!isRecord(value)) return out;
  for (const [name, def] of Object.entries(value)) {
    const d = isRecord(def) ? def : {};
    const output: FlowOutputDef = {
      name,
      isChatOutput: d.is_chat_output === true,
      evaluationOnly: d.evaluation_only === true,
      at: locate(source, ['outputs', name], 'key'),
    };
    if (typeof d.type === 'string') output.type = d.type;
    if (typeof d.description === 'string') output.description = d.description;
    if (withReference && 'reference' in d)
      output.reference = parseAssignment(d.reference, locate(source, ['outputs', name, 'reference']));
    out[name] = output;
  }
  return out;
}

function readNodeVariants(source: SourceFile, value: unknown, problems: Problem[]): Record<string, NodeVariants> {
  const out: Record<string, NodeVariants> = {};
  if (!isRecord(value)) return out;
  for (const [node, def] of Object.entries(value)) {
    if (!isRecord(def) || !isRecord(def.variants) || typeof def.default_variant_id !== 'string') continue; // schema reported it
    const nv: NodeVariants = {
      node,
      defaultVariantId: def.default_variant_id,
      variantIds: [],
      variants: {},
      at: locate(source, ['node_variants', node], 'key'),
    };
    for (const [vid, variant] of Object.entries(def.variants)) {
      if (!isRecord(variant) || !isRecord(variant.node)) continue;
      const body = buildNode(source, variant.node, ['node_variants', node, 'variants', vid, 'node'], node);
      nv.variants[vid] = { ...body, useVariants: true, variantId: vid };
      nv.variantIds.push(vid);
    }
    if (!(nv.defaultVariantId in nv.variants)) {
      problems.push({
        ...locate(source, ['node_variants', node, 'default_variant_id']),
        message: `node_variants.${node}.default_variant_id: found ${JSON.stringify(nv.defaultVariantId)}, expected one of the variants: ${nv.variantIds.join(', ') || '(none defined)'}`,
      });
    }
    out[node] = nv;
  }
  return out;
}

/** Optional metadata keys shared by all flow kinds. */
export function metadata(top: Record<string, unknown>): {
  description?: string;
  displayName?: string;
  tags?: Record<string, unknown>;
} {
  const out: { description?: string; displayName?: string; tags?: Record<string, unknown> } = {};
  if (typeof top.description === 'string') out.description = top.description;
  if (typeof top.display_name === 'string') out.displayName = top.display_name;
  if (isRecord(top.tags)) out.tags = top.tags;
  return out;
}

/** Prompt Flow's default flow name: the folder name as a Python identifier. */
export function sanitizedName(name: string): string {
  return name.replace(/\W|^(?=\d)/g, '_');
}

function describeTop(value: unknown): string {
  return Array.isArray(value) ? 'a list' : `${typeof value === 'string' ? 'text' : 'a single value'} at the top level`;
}

/** Problems sorted by position, each once (variant checks repeat the shared ones). */
export function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  const out: Problem[] = [];
  for (const p of problems) {
    const key = `${p.line}:${p.column}:${p.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(p);
  }
  return out.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
}

/**
 * What serving takes from configuration and the environment (promptflow-formats.md §3.3, §5.1, §7.2):
 * connection values overridden by `<CONNECTION_NAME>_<KEY>` variables, flex `__init__` kwargs from
 * `PF_FLOW_INIT_CONFIG`, and which flow output (if any) can be streamed.
 * @module
 */
import type { Connection, ConnectionValue } from '../config/connections.js';
import { ConfigError } from '../errors.js';
import type { DagFlow, FlowNode, LoadedFlow } from '../flow/index.js';

/** `open ai conn` + `api_key` → `OPEN_AI_CONN_API_KEY` (Prompt Flow's serving override name). */
export function connectionOverrideName(connection: string, key: string): string {
  return `${connection}_${key}`.toUpperCase().replace(/ /g, '_');
}

/**
 * Returns copies of the connections in which every key that has a `<CONN>_<KEY>` variable in `env` takes
 * that value (secrets stay secrets). Keys a connection does not have yet are added only for the fields every
 * LLM connection knows (api_key, api_base, api_version, base_url, organization, endpoint).
 */
export function applyConnectionOverrides(
  connections: readonly Connection[],
  env: Record<string, string | undefined>,
): Connection[] {
  const common = ['api_key', 'api_base', 'api_version', 'base_url', 'organization', 'endpoint'];
  return connections.map((c) => {
    const value: Record<string, ConnectionValue> = { ...c.value };
    const secretKeys = [...c.secretKeys];
    for (const key of new Set([...Object.keys(c.value), ...common])) {
      const v = env[connectionOverrideName(c.name, key)];
      if (v === undefined || v === '') continue;
      value[key] = v;
      if (key === 'api_key' && !secretKeys.includes(key)) secretKeys.push(key);
    }
    return { ...c, value, secretKeys };
  });
}

/** Flex `__init__` kwargs from `PF_FLOW_INIT_CONFIG` (JSON object), or undefined when the variable is unset. */
export function initFromEnv(env: Record<string, string | undefined>): Record<string, unknown> | undefined {
  const text = env.PF_FLOW_INIT_CONFIG;
  if (text === undefined || text.trim() === '') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw ConfigError.at(
      { file: 'PF_FLOW_INIT_CONFIG' },
      `found invalid JSON (${(e as Error).message}), expected a JSON object of __init__ arguments`,
    );
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw ConfigError.at({ file: 'PF_FLOW_INIT_CONFIG' }, 'expected a JSON object of __init__ arguments');
  return v as Record<string, unknown>;
}

/** A flow output that can be sent as server-sent events. */
export interface StreamPlan {
  /** The output whose value is the streamed text. */
  output: string;
  /** The output-terminal llm node producing it. */
  node: string;
  /**
   * True when every other served output is known before the model answers (flow inputs, literals): chunks go
   * out as the model produces them. False: the engine cannot yet report other nodes' outputs mid-line, so
   * the events are sent, in the same order and format, once the line has finished.
   */
  live: boolean;
}

/**
 * The stream plan of a flow, or undefined when it cannot stream. Prompt Flow streams an output whose node is an
 * llm (chat) node referenced by that flow output and by no other node. We also require the node to be the
 * flow's only llm node, so that its model call is the one call of the line that streams.
 */
export function planStream(flow: LoadedFlow): StreamPlan | undefined {
  if (flow.kind !== 'dag') return undefined;
  const served = Object.values(flow.outputs).filter((o) => !o.evaluationOnly);
  const llmNodes = flow.nodes.filter((n) => n.type === 'llm');
  if (llmNodes.length !== 1) return undefined;
  const node = llmNodes[0];
  if ((node.api ?? 'chat') !== 'chat' || referencedByNodes(flow, node.name)) return undefined;
  const streamed = served.filter(
    (o) => o.reference?.kind === 'reference' && o.reference.ref.kind === 'node' && o.reference.ref.node === node.name,
  );
  if (streamed.length !== 1) return undefined;
  const ref = streamed[0].reference!;
  if (ref.kind !== 'reference' || ref.ref.kind !== 'node' || ref.ref.path.length > 0) return undefined;
  const live = served.every(
    (o) =>
      o === streamed[0] ||
      o.reference?.kind === 'literal' ||
      (o.reference?.kind === 'reference' && o.reference.ref.kind === 'flow_input'),
  );
  return { output: streamed[0].name, node: node.name, live };
}

function referencedByNodes(flow: DagFlow, name: string): boolean {
  const refs = (n: FlowNode) => [...Object.values(n.inputs), ...(n.activate ? [n.activate.when] : [])];
  return flow.nodes.some(
    (n) =>
      n.name !== name && refs(n).some((a) => a.kind === 'reference' && a.ref.kind === 'node' && a.ref.node === name),
  );
}

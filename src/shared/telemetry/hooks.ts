/**
 * What the engine, the LLM service and the flow server tell telemetry. This module imports nothing of the
 * OpenTelemetry SDK: with telemetry off, `telemetry` stays undefined and each hook site costs one check of it.
 * Spans are keyed by objects the engine already has per line and per node (their usage records), so nothing
 * else has to be carried through the engine's calls to link a model call to the node that made it.
 * @module
 */

/** What names a run's lines in telemetry (span attributes and metric dimensions). */
export interface RunAttributes {
  runId?: string;
  variant?: string;
  dataset?: string;
  flow?: string;
}

export type LineStatus = 'Completed' | 'Failed' | 'Canceled';

/** A model call in progress. */
export interface ModelCallTrace {
  /** The W3C `traceparent` the call carries to the model, so the model's own trace joins this one. */
  readonly traceparent: string;
  end(outcome: ModelCallOutcome): void;
}

export interface ModelCallOutcome {
  response?: unknown;
  usage?: { promptTokens: number; completionTokens: number };
  costUsd?: number;
  cached?: boolean;
  attempts?: number;
  error?: unknown;
}

export interface ModelCallStart {
  /** chat | completion | embedding */
  api: string;
  /** The provider as the GenAI conventions name it (azure.ai.openai, openai). */
  system: string;
  model: string;
  body: Record<string, unknown>;
}

/** A served request in progress. */
export interface RequestTrace {
  /** The key the request's line span is parented by (give it to runLine). */
  readonly parent: object;
  /** What the serving cache did for this request (serve/cache.ts), when the deployment turned it on. */
  cacheResult?: 'hit' | 'coalesced' | 'miss' | 'bypass';
  end(status: number, errorKind?: string): void;
}

export interface Telemetry {
  lineStart(key: object, lineNumber: number, run: RunAttributes | undefined, parent?: object): void;
  lineEnd(key: object, status: LineStatus, errorType: string | undefined, latencyMs: number): void;
  nodeStart(parentKey: object, key: object, node: string): void;
  nodeEnd(key: object, node: string, errorType: string | undefined, latencyMs: number): void;
  modelCallStart(parentKey: object | undefined, call: ModelCallStart): ModelCallTrace;
  /** One 429 answer of an endpoint (counted whether or not the call is retried). */
  throttled(url: string): void;
  /** A served request: its span (child of the incoming `traceparent`) and the server's metrics. */
  requestStart(route: string, traceparent: string | undefined): RequestTrace;
}

/** The process's telemetry, or undefined (off). Set by telemetry/setup.ts. */
export let telemetry: Telemetry | undefined;

export function setTelemetry(t: Telemetry | undefined): void {
  telemetry = t;
}

/** The GenAI conventions' name of a model provider (`gen_ai.system`). */
export function genAiSystem(provider: string): string {
  return provider === 'azure_openai' ? 'az.ai.openai' : provider;
}

/** The error kind telemetry records for an exception or a Prompt Flow error code list. */
export function errorTypeOf(error: unknown): string {
  if (error === undefined || error === null) return '_OTHER';
  const e = error as { code?: unknown; name?: unknown; status?: unknown; constructor?: { name?: string } };
  if (typeof e.code === 'string' && e.code) return e.code;
  if (typeof e.status === 'number') return String(e.status);
  if (typeof e.name === 'string' && e.name && e.name !== 'Error') return e.name;
  return e.constructor?.name && e.constructor.name !== 'Object' ? e.constructor.name : '_OTHER';
}

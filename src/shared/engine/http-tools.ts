/**
 * The promptflow-tools package tools that are one HTTP call, run natively: SerpAPI search
 * (`promptflow.tools.serpapi.SerpAPI.search`) and Azure AI Content Safety text analysis
 * (`promptflow.tools.azure_content_safety.analyze_text`). Requests, outputs and error messages are the
 * Python tools' (promptflow-tools 1.4); the service address comes from the connection, so a SerpConnection may
 * carry `api_base` (default https://serpapi.com) to point the tool at a proxy or a stand-in service.
 * @module
 */
import type { Connection } from '../config/connections.js';
import { LineFailure } from './line-error.js';

/** Per request, as long as a model call may take by default. */
const REQUEST_TIMEOUT_MS = 600_000;
export const SERPAPI_DEFAULT_BASE = 'https://serpapi.com';

/** Declared inputs of the native tools (§1.6 literal conversion). */
export const SERPAPI_TYPES: Record<string, string> = {
  connection: 'connection',
  query: 'string',
  location: 'string',
  safe: 'string',
  num: 'int',
  engine: 'string',
};
export const CONTENT_SAFETY_TYPES: Record<string, string> = {
  connection: 'connection',
  text: 'string',
  hate_category: 'string',
  sexual_category: 'string',
  self_harm_category: 'string',
  violence_category: 'string',
};

interface HttpAnswer {
  status: number;
  text: string;
}

async function send(url: string, init: RequestInit, signal: AbortSignal | undefined): Promise<HttpAnswer> {
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  const response = await fetch(url, { ...init, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
  return { status: response.status, text: await response.text() };
}

const causeText = (e: unknown): string => {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  const detail = err?.cause?.code ?? err?.cause?.message;
  return `${err?.name ?? 'Error'}: ${err?.message ?? String(e)}${detail ? ` (${detail})` : ''}`;
};

/** `SerpAPI(connection).search(query, location, safe, num, engine)`. */
export async function serpApiSearch(
  connection: Connection,
  inputs: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<unknown> {
  const engine = String(inputs.engine ?? 'google');
  const google = engine.toLowerCase() === 'google';
  const params = new URLSearchParams();
  params.set('q', String(inputs.query ?? ''));
  if (inputs.location !== undefined && inputs.location !== null) params.set('location', String(inputs.location));
  params.set('api_key', String(connection.value.api_key ?? ''));
  params.set('engine', engine);
  if (String(inputs.safe ?? 'off') === 'active')
    params.set(google ? 'safe' : 'safeSearch', google ? 'Active' : 'Strict');
  const num = Math.trunc(Number(inputs.num ?? 10));
  if (num > 0) params.set(google ? 'num' : 'count', String(num));
  const base = String(connection.value.api_base ?? SERPAPI_DEFAULT_BASE).replace(/\/+$/, '');
  let answer: HttpAnswer;
  try {
    answer = await send(`${base}/search?${params.toString()}`, { method: 'GET' }, signal);
  } catch (e) {
    if (signal?.aborted) throw e;
    throw new LineFailure(`SerpAPI search request failed: ${causeText(e)}`, ['SerpAPISystemError'], {
      system: true,
      cause: e,
    });
  }
  if (answer.status === 200) {
    try {
      return JSON.parse(answer.text) as unknown;
    } catch (e) {
      throw new LineFailure(`SerpAPI search request failed: ${causeText(e)}`, ['SerpAPISystemError'], {
        system: true,
        cause: e,
      });
    }
  }
  const message = serpErrorMessage(answer.text);
  if (answer.status >= 500) throw new LineFailure(message, ['SerpAPISystemError'], { system: true });
  throw new LineFailure(message, ['SerpAPIUserError']);
}

function serpErrorMessage(text: string): string {
  const fallback = `SerpAPI search request failed: ${text}`;
  try {
    const data = JSON.parse(text) as { error?: unknown };
    const error = data && typeof data === 'object' && 'error' in data ? String(data.error) : '';
    return error.length > 0 ? error : fallback;
  } catch {
    return fallback;
  }
}

const THRESHOLDS: Record<string, number> = {
  disable: -1,
  low_sensitivity: 6,
  medium_sensitivity: 4,
  high_sensitivity: 2,
};
/** The categories in the tool's order, with the input that sets each one's sensitivity. */
const CATEGORIES: Array<[name: string, input: string, legacyKey: string]> = [
  ['Hate', 'hate_category', 'hateResult'],
  ['SelfHarm', 'self_harm_category', 'selfHarmResult'],
  ['Sexual', 'sexual_category', 'sexualResult'],
  ['Violence', 'violence_category', 'violenceResult'],
];

/** `analyze_text(connection, text, hate_category, sexual_category, self_harm_category, violence_category)`. */
export async function contentSafetyAnalyzeText(
  connection: Connection,
  inputs: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<unknown> {
  const endpoint = String(connection.value.endpoint ?? '').replace(/\/+$/, '');
  const apiVersion = String(connection.value.api_version ?? '2023-10-01');
  const thresholds = CATEGORIES.map(([name, input, legacyKey]) => {
    const sensitivity = String(inputs[input] ?? 'medium_sensitivity');
    const threshold = THRESHOLDS[sensitivity];
    if (threshold === undefined) {
      throw new LineFailure(
        `RejectThreshold can only be in (-1, 0, 2, 4, 6); found sensitivity ${JSON.stringify(sensitivity)} for ${input}, expected one of ${Object.keys(THRESHOLDS).join(', ')}`,
        ['AzureContentSafetyInputValueError'],
      );
    }
    return { name, legacyKey, threshold };
  });
  let answer: HttpAnswer;
  try {
    answer = await send(
      `${endpoint}/contentsafety/text:analyze?api-version=${encodeURIComponent(apiVersion)}`,
      {
        method: 'POST',
        headers: {
          'Ocp-Apim-Subscription-Key': String(connection.value.api_key ?? ''),
          'Content-Type': 'application/json',
          'ms-azure-ai-sender': 'prompt_flow',
        },
        body: JSON.stringify({ text: String(inputs.text ?? ''), blocklistNames: [] }),
      },
      signal,
    );
  } catch (e) {
    if (signal?.aborted) throw e;
    throw new LineFailure(`Error in detecting content: ${causeText(e)}`, ['AzureContentSafetySystemError'], {
      system: true,
      cause: e,
    });
  }
  let result: Record<string, unknown>;
  try {
    result = JSON.parse(answer.text) as Record<string, unknown>;
  } catch {
    throw new LineFailure(
      `Error in detecting content: the service answered ${answer.status} with a body that is not JSON: ${answer.text.slice(0, 200)}`,
      ['AzureContentSafetySystemError'],
      { system: true },
    );
  }
  if (answer.status !== 200) {
    const detail = (result.error as { message?: unknown } | undefined)?.message ?? answer.text;
    throw new LineFailure(`Error in detecting content: ${String(detail)}`, ['AzureContentSafetySystemError'], {
      system: true,
    });
  }
  const current = apiVersion === '2023-10-01';
  const byCategory: Record<string, string> = {};
  let suggested = 'Accept';
  for (const { name, legacyKey, threshold } of thresholds) {
    const found = current
      ? ((result.categoriesAnalysis as Array<{ category?: string; severity?: number }> | undefined) ?? []).find(
          (c) => c.category === name,
        )
      : (result[legacyKey] as { severity?: number } | undefined);
    if (current && !found)
      throw new LineFailure(`Invalid Category Category.${name}`, ['AzureContentSafetyInputValueError']);
    if (!found || typeof found.severity !== 'number')
      throw new LineFailure(`Can not find detection result for Category.${name}`, ['AzureContentSafetySystemError'], {
        system: true,
      });
    const action = threshold !== -1 && found.severity >= threshold ? 'Reject' : 'Accept';
    byCategory[name] = action;
    if (action === 'Reject') suggested = 'Reject';
  }
  const blocklist = result[current ? 'blocklistsMatch' : 'blocklistsMatchResults'];
  if (Array.isArray(blocklist) && blocklist.length > 0) suggested = 'Reject';
  return { suggested_action: suggested, action_by_category: byCategory };
}

/** A native package tool: its declared inputs, the connection class it takes, and the call. */
export interface NativeHttpTool {
  label: string;
  types: Record<string, string>;
  connectionType: string;
  run(connection: Connection, inputs: Record<string, unknown>, signal?: AbortSignal): Promise<unknown>;
}

/** Package tool keys (with their deprecated aliases) run natively. */
export const NATIVE_HTTP_TOOLS: Record<string, NativeHttpTool> = {
  'promptflow.tools.serpapi.SerpAPI.search': {
    label: 'Serp API',
    types: SERPAPI_TYPES,
    connectionType: 'SerpConnection',
    run: serpApiSearch,
  },
  'promptflow.tools.azure_content_safety.analyze_text': {
    label: 'Content Safety (Text Analyze)',
    types: CONTENT_SAFETY_TYPES,
    connectionType: 'AzureContentSafetyConnection',
    run: contentSafetyAnalyzeText,
  },
  'content_safety_text.tools.content_safety_text_tool.analyze_text': {
    label: 'Content Safety (Text Analyze)',
    types: CONTENT_SAFETY_TYPES,
    connectionType: 'AzureContentSafetyConnection',
    run: contentSafetyAnalyzeText,
  },
};

/**
 * Prompt Flow connections → where and how to call the model (spec §2.3 step 1 and §3):
 * `AzureOpenAIConnection` → Azure OpenAI (`{api_base}/openai/deployments/{deployment}/…?api-version=`, `api-key`
 * header or an Entra bearer token), `OpenAIConnection` → OpenAI (`{base_url}/…`, bearer key, organization),
 * `ServerlessConnection` → any OpenAI-compatible endpoint at `api_base + "/v1"` (unless it already ends in /v1).
 * @module
 */
import { ConfigError } from '../errors.js';
import { endpointUrlProblem } from './endpoint-url.js';

export interface AzureOpenAIConnection {
  type: 'AzureOpenAIConnection' | 'azure_open_ai';
  name?: string;
  api_base: string;
  api_key?: string;
  /** Default 2024-02-01 (Prompt Flow >= 1.17.1). */
  api_version?: string;
  /** `meid_token`: authenticate with an Entra ID token from `getToken` instead of `api_key`. */
  auth_mode?: 'key' | 'meid_token';
  api_type?: string;
  resource_id?: string;
}

export interface OpenAIConnection {
  type: 'OpenAIConnection' | 'open_ai';
  name?: string;
  api_key: string;
  /** Default https://api.openai.com/v1; "" and "_" mean unset, as in Prompt Flow. */
  base_url?: string;
  organization?: string;
}

export interface ServerlessConnection {
  type: 'ServerlessConnection' | 'serverless';
  name?: string;
  api_base: string;
  api_key: string;
}

export type LlmConnection = AzureOpenAIConnection | OpenAIConnection | ServerlessConnection;

/** The API of a call. */
export type LlmApi = 'chat' | 'completion' | 'embedding';

/** A resolved endpoint: how to build URLs and headers for each call. */
export interface ProviderEndpoint {
  /** `http`: any endpoint called as it is (an http flow target): one URL whatever the API and model. */
  provider: 'azure_openai' | 'openai' | 'http';
  /** Base URL without trailing slash (Azure: the resource; OpenAI: including /v1). */
  baseUrl: string;
  apiVersion?: string;
  /** The request URL of an API call; `model` is the Azure deployment or the OpenAI model. */
  url(api: LlmApi, model: string): string;
  /** Headers of every request (auth, Prompt Flow's called-from marker). A promise only when a token must be fetched. */
  headers(): Record<string, string> | Promise<Record<string, string>>;
  /** An http target's method (default POST); GET sends the body's fields as query parameters instead. */
  method?: 'GET' | 'PUT' | 'PATCH' | 'POST';
}

export interface EndpointOptions {
  /** Entra ID token source for Azure OpenAI (e.g. @azure/identity's getBearerTokenProvider). Called per request; cache inside. */
  getToken?: () => Promise<string>;
  /** Value of `ms-azure-ai-promptflow-called-from` for Azure OpenAI calls. Default "aoai-tool" (spec §2.3). */
  calledFrom?: string;
}

export const DEFAULT_AZURE_API_VERSION = '2024-02-01';
const OPENAI_DEFAULT_BASE = 'https://api.openai.com/v1';
const PATHS: Record<LlmApi, string> = { chat: 'chat/completions', completion: 'completions', embedding: 'embeddings' };

function where(c: { name?: string }): { file: string } {
  return { file: c.name ? `connection "${c.name}"` : 'connection' };
}

function requireUrl(c: { name?: string }, field: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '')
    throw ConfigError.at(where(c), `"${field}" is required (the endpoint URL)`);
  const problem = endpointUrlProblem(value);
  if (problem) throw ConfigError.at(where(c), `"${field}" is not a usable URL: ${problem}`);
  return value.trim().replace(/\/+$/, '');
}

/**
 * Accept a connection in its YAML form (`type: azure_open_ai`, fields at top level) or the executor's runtime
 * form (`{type: "AzureOpenAIConnection", value: {...}}`, spec §3.2).
 */
function flatten(
  connection: LlmConnection | { type: string; value: Record<string, unknown>; name?: string },
): Record<string, unknown> {
  const c = connection as Record<string, unknown>;
  return c.value && typeof c.value === 'object' ? { ...(c.value as object), type: c.type, name: c.name } : c;
}

/** Resolve a connection to an endpoint. Unknown types and missing fields are ConfigErrors. */
export function resolveEndpoint(
  connection: LlmConnection | { type: string; value: Record<string, unknown>; name?: string },
  options: EndpointOptions = {},
): ProviderEndpoint {
  const c = flatten(connection) as Record<string, string | undefined> & { name?: string };
  switch (c.type) {
    case 'AzureOpenAIConnection':
    case 'azure_open_ai': {
      const baseUrl = requireUrl(c, 'api_base', c.api_base);
      const apiVersion = c.api_version || DEFAULT_AZURE_API_VERSION;
      const useToken = c.auth_mode === 'meid_token' || !c.api_key;
      if (useToken && !options.getToken) {
        throw ConfigError.at(
          where(c),
          c.auth_mode === 'meid_token'
            ? 'auth_mode meid_token needs an Entra ID credential, and none was given'
            : '"api_key" is required (or set auth_mode: meid_token)',
        );
      }
      const fixed = {
        'content-type': 'application/json',
        'ms-azure-ai-promptflow-called-from': options.calledFrom ?? 'aoai-tool',
      };
      const query = `?api-version=${encodeURIComponent(apiVersion)}`;
      return {
        provider: 'azure_openai',
        baseUrl,
        apiVersion,
        url: (api, model) => `${baseUrl}/openai/deployments/${encodeURIComponent(model)}/${PATHS[api]}${query}`,
        headers: useToken
          ? async () => ({ ...fixed, authorization: `Bearer ${await options.getToken!()}` })
          : (
              (h) => () =>
                h
            )({ ...fixed, 'api-key': c.api_key! }),
      };
    }
    case 'OpenAIConnection':
    case 'open_ai':
    case 'ServerlessConnection':
    case 'serverless': {
      const serverless = c.type === 'ServerlessConnection' || c.type === 'serverless';
      if (!c.api_key) throw ConfigError.at(where(c), '"api_key" is required');
      let baseUrl: string;
      if (serverless) {
        baseUrl = requireUrl(c, 'api_base', c.api_base);
        if (!baseUrl.endsWith('/v1')) baseUrl += '/v1';
      } else {
        baseUrl = c.base_url && c.base_url !== '_' ? requireUrl(c, 'base_url', c.base_url) : OPENAI_DEFAULT_BASE;
      }
      const h: Record<string, string> = { 'content-type': 'application/json', authorization: `Bearer ${c.api_key}` };
      if (!serverless && c.organization) h['openai-organization'] = c.organization;
      return { provider: 'openai', baseUrl, url: (api) => `${baseUrl}/${PATHS[api]}`, headers: () => h };
    }
    default:
      throw ConfigError.at(
        where(c),
        `connection type ${JSON.stringify(c.type)} cannot call a model; expected AzureOpenAIConnection, OpenAIConnection or ServerlessConnection (InvalidConnectionType)`,
      );
  }
}

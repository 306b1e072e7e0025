/**
 * URL → endpoint for the OpenAI paths (`/v1/...`, also accepted without `/v1`) and the Azure OpenAI paths
 * (`/openai/deployments/{deployment}/...?api-version=...`).
 * @module
 */
import { ApiError } from './api-error.js';

export type Endpoint = 'chat' | 'completions' | 'embeddings' | 'models';

export interface Route {
  endpoint: Endpoint;
  /** Azure deployment name (the model when the body has none). */
  deployment?: string;
  azure: boolean;
}

const OPENAI: Record<string, Endpoint> = {
  '/v1/chat/completions': 'chat',
  '/chat/completions': 'chat',
  '/v1/completions': 'completions',
  '/completions': 'completions',
  '/v1/embeddings': 'embeddings',
  '/embeddings': 'embeddings',
  '/v1/models': 'models',
  '/models': 'models',
};

const AZURE = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|completions|embeddings)$/;

/** Find the endpoint of a request, or throw the 404/405/400 the real service would answer. */
export function route(method: string, url: string): Route {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  const endpoint = OPENAI[trimmed];
  if (endpoint) {
    checkMethod(method, endpoint, trimmed);
    return { endpoint, azure: false };
  }
  const m = AZURE.exec(trimmed);
  if (m) {
    const ep: Endpoint = m[2] === 'chat/completions' ? 'chat' : (m[2] as Endpoint);
    checkMethod(method, ep, trimmed);
    const version = q < 0 ? null : new URLSearchParams(url.slice(q + 1)).get('api-version');
    if (!version) {
      throw new ApiError(
        404,
        'Resource not found: the api-version query parameter (?api-version=) is required for all requests.',
        'invalid_request_error',
        'api-version',
        'MissingApiVersionParameter',
      );
    }
    return { endpoint: ep, deployment: decodeURIComponent(m[1]), azure: true };
  }
  throw new ApiError(
    404,
    `Unknown request URL: ${method} ${path}. Please check the URL for typos.`,
    'invalid_request_error',
    null,
    'unknown_url',
  );
}

function checkMethod(method: string, endpoint: Endpoint, path: string): void {
  const expected = endpoint === 'models' ? 'GET' : 'POST';
  if (method !== expected) {
    throw new ApiError(
      405,
      `Method ${method} not allowed for ${path}: use ${expected}.`,
      'invalid_request_error',
      null,
      'method_not_allowed',
    );
  }
}

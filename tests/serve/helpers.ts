/** A model server and connections for the serve tests. */
import type { Connection } from '../../src/shared/config/connections.js';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';

export const FIX = 'tests/serve/fixtures';

export async function modelServer(latencyMs = 0): Promise<{ model: ModelServerHandle; conn: Connection }> {
  const model = await startModelServer({ latencyMs });
  return {
    model,
    conn: {
      name: 'conn',
      type: 'AzureOpenAIConnection',
      value: { api_key: 'model-key-123', api_base: model.url },
      secretKeys: ['api_key'],
    },
  };
}

export async function post(
  url: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; type: string; headers: Headers; text: string; json: () => unknown }> {
  const r = await fetch(url, { method: 'POST', body, headers });
  const text = await r.text();
  return {
    status: r.status,
    type: r.headers.get('content-type') ?? '',
    headers: r.headers,
    text,
    json: () => JSON.parse(text),
  };
}

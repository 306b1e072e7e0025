/** Shared setup of the conformance tests: a model server, connections, a request recorder and run-store readers. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Connection } from '../../../src/shared/config/connections.js';
import { LlmService } from '../../../src/shared/engine/index.js';
import { readLineRecords, type LineRecord } from '../../../src/shared/runs/index.js';

/** Fixture flows of this suite. */
export const FIX = resolve('tests/engine/conformance/fixtures');

/** One request the engine sent to the model server. */
export interface SentRequest {
  url: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

/** An LlmService whose every request is recorded (body and headers) before it reaches the model server. */
export function recordingService(): { llm: LlmService; sent: SentRequest[] } {
  const sent: SentRequest[] = [];
  const capture: typeof fetch = async (url, init) => {
    const headers = Object.fromEntries(new Headers(init?.headers).entries());
    sent.push({ url: String(url), headers, body: JSON.parse(String(init?.body)) as Record<string, unknown> });
    return fetch(url, init);
  };
  return { llm: new LlmService({ client: { fetch: capture } }), sent };
}

export const azureConnection = (url: string, name = 'conn'): Connection => ({
  name,
  type: 'AzureOpenAIConnection',
  value: { api_base: url, api_key: 'k' },
  secretKeys: ['api_key'],
});
export const openaiConnection = (url: string, name = 'conn'): Connection => ({
  name,
  type: 'OpenAIConnection',
  value: { base_url: `${url}/v1`, api_key: 'k' },
  secretKeys: ['api_key'],
});

/** A fresh run-store root. */
export const tempStore = (): string => mkdtempSync(join(tmpdir(), 'llmops-conformance-'));

/** The line records of a run folder, in line order. */
export async function lineRecords(dir: string): Promise<LineRecord[]> {
  const out: LineRecord[] = [];
  for await (const r of readLineRecords(join(dir, 'outputs.jsonl'))) out.push(r);
  return out.sort((a, b) => a.line_number - b.line_number);
}

/** A JSON file of a run folder. */
export const runFile = (dir: string, name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(dir, name), 'utf8')) as Record<string, unknown>;

/** The chat messages of a recorded request. */
export const messagesOf = (r: SentRequest): Array<{ role: string; content: string }> =>
  r.body.messages as Array<{ role: string; content: string }>;

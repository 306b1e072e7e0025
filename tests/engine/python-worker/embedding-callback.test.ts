/**
 * `promptflow.tools.embedding.embedding` called from a flow's Python code goes through the engine (the
 * `embedding` callback, engine/callbacks.ts): the engine's connection and client, the response cache, and the
 * tokens added to the line that made the call. A list of texts is one request answered with a vector per text.
 * Against the local model server, whose embeddings are deterministic (embedText).
 */
import path from 'node:path';
import { embedText, startModelServer, type ModelServerHandle } from '../../../src/model-server/index.js';
import { makeCallbacks } from '../../../src/shared/engine/callbacks.js';
import { emptyUsage, LlmService } from '../../../src/shared/engine/llm-service.js';
import { PythonWorkerPool } from '../../../src/shared/engine/python-worker/index.js';

const dir = path.join(process.cwd(), 'tests/engine/python-worker/fixtures/embedding');
let server: ModelServerHandle;
beforeAll(async () => {
  server = await startModelServer({ seed: 1 });
});
afterAll(() => server?.close());

test('a list is embedded in one engine call; its tokens go to the line that asked', async () => {
  const service = new LlmService();
  const callbacks = makeCallbacks(service, { get: () => undefined } as never);
  const connections = {
    aoai: { type: 'AzureOpenAIConnection', value: { api_key: 'k', api_base: server.url }, secret_keys: ['api_key'] },
  };
  const pool = new PythonWorkerPool({ workingDir: dir, callbacks, connections });
  const usage = emptyUsage();
  const before = server.stats().byEndpoint.embeddings ?? 0;
  try {
    const texts = ['bikes are rented per hour', 'the greenhouse opens at dawn'];
    const r = await pool.call('embed_tool.py', { conn: 'aoai', texts }, { node: 'embed', context: { usage: [usage] } });
    const out = r.output as { many: number[][]; one: number[] };
    expect(out.many).toHaveLength(2);
    const expected = texts.map((t) => Array.from(embedText(t, out.many[0].length, 1)));
    out.many.forEach((v, i) => v.forEach((x, j) => expect(x).toBeCloseTo(expected[i][j], 5)));
    expect(out.one).toEqual(out.many[0]);
    // Two calls (the list, then one text), through the engine's client: counted on the line.
    expect(usage.llmCalls).toBe(2);
    expect(usage.promptTokens).toBeGreaterThan(0);
    expect((server.stats().byEndpoint.embeddings ?? 0) - before).toBe(2);
  } finally {
    await pool.close();
  }
});

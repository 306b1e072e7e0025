/** Graceful shutdown: in-flight requests finish, new connections are refused, the flow (Python workers) closes. */
import { startFlowServer } from '../../src/shared/serve/index.js';
import { FIX, modelServer, post } from './helpers.js';

test('close() under load: all N slow in-flight requests complete 200, then new connections are refused', async () => {
  const { model, conn } = await modelServer(400);
  const server = await startFlowServer({ flow: `${FIX}/chat`, connections: [conn], port: 0, log: () => {} });
  try {
    const n = 24;
    const inFlight = Array.from({ length: n }, (_, i) =>
      post(`${server.url}/score`, JSON.stringify({ question: `q${i}` })),
    );
    // Wait until every request reached the model (they are all in flight), then close.
    const deadline = Date.now() + 5000;
    while (model.stats().inFlight < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(model.stats().inFlight).toBe(n);
    const closing = server.close();
    await new Promise((r) => setTimeout(r, 50));
    await expect(fetch(`${server.url}/health`)).rejects.toMatchObject({ cause: { code: 'ECONNREFUSED' } });
    const answers = await Promise.all(inFlight);
    expect(answers.map((a) => a.status)).toEqual(Array(n).fill(200));
    expect(answers.map((a) => (a.json() as { question: string }).question)).toEqual(
      Array.from({ length: n }, (_, i) => `q${i}`),
    );
    await closing;
  } finally {
    await server.close();
    await model.close();
  }
});

test('close() also ends the Python workers of python nodes (no process left behind)', async () => {
  const server = await startFlowServer({ flow: `${FIX}/calc`, port: 0, log: () => {} });
  expect((await post(`${server.url}/score`, '{"n": 5}')).json()).toEqual({ value: 10, label: 'result' });
  await server.close();
  // A second close is harmless and the same promise.
  await server.close();
  await expect(fetch(`${server.url}/health`)).rejects.toThrow();
});

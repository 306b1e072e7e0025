/** A pooled connection under telemetry: the model call has its span, and the member that answered gets its trace. */
import { startModelServer } from '../../src/model-server/index.js';
import type { Connection } from '../../src/shared/config/connections.js';
import { startFlowServer } from '../../src/shared/serve/index.js';
import { startTelemetry } from '../../src/shared/telemetry/index.js';
import { startOtlpReceiver } from '../support/otlp/receiver.js';

test('a served request over a pool: one model-call span, its trace carried to the member that answered', async () => {
  const logs: string[] = [];
  const [a, b] = await Promise.all([
    startModelServer({ log: (l) => void logs.push(l) }),
    startModelServer({ log: (l) => void logs.push(l) }),
  ]);
  const receiver = await startOtlpReceiver();
  const endpoints = [a, b].map((s) => ({
    type: 'AzureOpenAIConnection',
    value: { api_key: 'k', api_base: s.url },
    weight: 1,
    priority: 1,
  }));
  const conn: Connection = {
    name: 'conn',
    type: 'AzureOpenAIConnection',
    value: endpoints[0].value,
    secretKeys: [],
    endpoints,
  };
  const handle = await startTelemetry({
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'pool-test' },
  });
  const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
  try {
    const server = await startFlowServer({
      flow: 'tests/serve/fixtures/chat',
      connections: [conn],
      port: 0,
      log: false,
    });
    try {
      const r = await fetch(`${server.url}/score`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', traceparent: `00-${trace}-00f067aa0ba902b7-01` },
        body: JSON.stringify({ question: 'pooled' }),
      });
      expect(r.status).toBe(200);
    } finally {
      await server.close();
    }
  } finally {
    await handle!.shutdown();
    await receiver.close();
    await a.close();
    await b.close();
  }
  const calls = receiver.spans.filter((s) => s.traceId === trace && s.attributes['gen_ai.operation.name'] === 'chat');
  expect(calls).toHaveLength(1);
  const seen = logs.map((l) => /traceparent=(\S+)/.exec(l)?.[1]).filter(Boolean);
  expect(seen).toEqual([`00-${trace}-${calls[0].spanId}-01`]);
  expect(a.stats().requests + b.stats().requests).toBe(1);
});

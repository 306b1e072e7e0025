/** examples/web_classification/smoke-tests.yaml passes against the served example flow (local model server with its rules). */
import { loadSmokeTests, runSmokeTests } from '../../src/shared/deploy/index.js';
import { startModelServer } from '../../src/model-server/index.js';
import { startFlowServer } from '../../src/shared/serve/index.js';

test('the example smoke tests pass against the web_classification flow served with variant_1', async () => {
  const model = await startModelServer({ rules: 'examples/web_classification/model-rules.yaml' });
  const aoai = {
    name: 'aoai',
    type: 'AzureOpenAIConnection',
    value: { api_key: 'k', api_base: model.url },
    secretKeys: ['api_key'],
  };
  const server = await startFlowServer({
    flow: 'examples/web_classification/flows/experiment',
    variants: ['${summarize_text_content.variant_1}'],
    connections: [aoai],
    port: 0,
    log: () => {},
  });
  try {
    const result = await runSmokeTests(loadSmokeTests('examples/web_classification/smoke-tests.yaml'), {
      endpoint: server.url,
    });
    expect(result.tests.filter((t) => !t.passed).map((t) => `${t.name}: ${t.failures.join('; ')}`)).toEqual([]);
    expect(result.tests).toHaveLength(5);
  } finally {
    await server.close();
    await model.close();
  }
}, 60_000);

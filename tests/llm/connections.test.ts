import { ConfigError } from '../../src/shared/errors.js';
import { resolveEndpoint } from '../../src/shared/llm/connections.js';

test('AzureOpenAIConnection: deployment URL with api-version (default 2024-02-01), api-key and the Prompt Flow marker header', () => {
  const e = resolveEndpoint({
    type: 'azure_open_ai',
    name: 'aoai',
    api_base: 'https://x.openai.azure.com/',
    api_key: 'secret',
  });
  expect(e.provider).toBe('azure_openai');
  expect(e.url('chat', 'gpt 4o')).toBe(
    'https://x.openai.azure.com/openai/deployments/gpt%204o/chat/completions?api-version=2024-02-01',
  );
  expect(e.url('embedding', 'ada')).toBe(
    'https://x.openai.azure.com/openai/deployments/ada/embeddings?api-version=2024-02-01',
  );
  expect(e.headers()).toMatchObject({ 'api-key': 'secret', 'ms-azure-ai-promptflow-called-from': 'aoai-tool' });
});

test('AzureOpenAIConnection with auth_mode meid_token asks getToken for a bearer token on each request', async () => {
  let calls = 0;
  const e = resolveEndpoint(
    {
      type: 'AzureOpenAIConnection',
      value: { api_base: 'https://x.openai.azure.com', auth_mode: 'meid_token', api_version: '2024-06-01' },
    },
    { getToken: async () => `tok${++calls}` },
  );
  expect(e.url('completion', 'd')).toBe(
    'https://x.openai.azure.com/openai/deployments/d/completions?api-version=2024-06-01',
  );
  expect(await e.headers()).toMatchObject({ authorization: 'Bearer tok1' });
  expect(await e.headers()).toMatchObject({ authorization: 'Bearer tok2' });
  expect(() => resolveEndpoint({ type: 'azure_open_ai', api_base: 'https://x', auth_mode: 'meid_token' })).toThrow(
    /Entra ID credential/,
  );
});

test('OpenAIConnection: default base URL, bearer key, organization; "_" base_url means unset', () => {
  const e = resolveEndpoint({ type: 'open_ai', api_key: 'sk', organization: 'org1', base_url: '_' });
  expect(e.url('chat', 'gpt-4o')).toBe('https://api.openai.com/v1/chat/completions');
  expect(e.headers()).toMatchObject({ authorization: 'Bearer sk', 'openai-organization': 'org1' });
  expect(e.headers()).not.toHaveProperty('ms-azure-ai-promptflow-called-from');
});

test('ServerlessConnection: api_base + /v1 unless it already ends with /v1', () => {
  expect(resolveEndpoint({ type: 'serverless', api_base: 'https://m.models.ai/', api_key: 'k' }).url('chat', 'x')).toBe(
    'https://m.models.ai/v1/chat/completions',
  );
  expect(
    resolveEndpoint({ type: 'ServerlessConnection', api_base: 'https://m.models.ai/v1', api_key: 'k' }).url(
      'chat',
      'x',
    ),
  ).toBe('https://m.models.ai/v1/chat/completions');
});

test('other connection types and missing fields are configuration errors naming the connection', () => {
  expect(() => resolveEndpoint({ type: 'custom', name: 'mine', value: {} })).toThrow(ConfigError);
  expect(() => resolveEndpoint({ type: 'custom', name: 'mine', value: {} })).toThrow(
    /connection "mine": connection type "custom" cannot call a model/,
  );
  expect(() => resolveEndpoint({ type: 'azure_open_ai', name: 'a', api_base: 'not a url', api_key: 'k' })).toThrow(
    /"api_base" is not a usable URL/,
  );
  expect(() => resolveEndpoint({ type: 'open_ai', name: 'o', api_key: '' })).toThrow(/"api_key" is required/);
});

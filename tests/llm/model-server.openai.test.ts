/**
 * The local model server seen through the official `openai` npm client: if these pass, flows written
 * against OpenAI / Azure OpenAI run against it unchanged.
 */
import OpenAI, { AzureOpenAI } from 'openai';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';

let server: ModelServerHandle;
let client: OpenAI;

beforeAll(async () => {
  server = await startModelServer({
    rules: [
      { match: 'capital of (\\w+)', flags: 'i', answer: 'The capital of {{1}} is unknown to me.' },
      { match: 'sentiment of: (?<text>.+)', json: { sentiment: 'positive', text: '{{text}}' } },
      { match: 'weather in (?<city>\\w+)', tool_calls: [{ name: 'get_weather', arguments: { city: '{{city}}' } }] },
    ],
  });
  client = new OpenAI({ apiKey: 'test-key', baseURL: `${server.url}/v1`, maxRetries: 0 });
});
afterAll(() => server.close());

const messages = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'Hello there' },
];

test('chat: the default answer echoes every message, says it is a stand-in model, and counts usage with the tokenizer', async () => {
  const c = await client.chat.completions.create({ model: 'gpt-4o', messages });
  expect(c.choices[0].message.content).toBe('system: You are terse.\nuser: Hello there');
  expect(c.choices[0].finish_reason).toBe('stop');
  expect(c.model).toBe('llmops-local-model/gpt-4o');
  expect(c.usage?.completion_tokens).toBe(countTokens('system: You are terse.\nuser: Hello there'));
  // 3 priming + per message 3 + role + content
  const expectedPrompt =
    3 +
    (3 + countTokens('system') + countTokens('You are terse.')) +
    (3 + countTokens('user') + countTokens('Hello there'));
  expect(c.usage?.prompt_tokens).toBe(expectedPrompt);
  expect(c.usage?.total_tokens).toBe(c.usage!.prompt_tokens + c.usage!.completion_tokens);
});

test('chat: the same request gets the same answer (deterministic), max_tokens cuts with finish_reason "length"', async () => {
  const a = await client.chat.completions.create({ model: 'gpt-4o', messages });
  const b = await client.chat.completions.create({ model: 'gpt-4o', messages });
  expect(b).toEqual(a);
  const cut = await client.chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 2 });
  expect(cut.choices[0].finish_reason).toBe('length');
  expect(cut.usage?.completion_tokens).toBe(2);
  const stopped = await client.chat.completions.create({ model: 'gpt-4o', messages, stop: ['\n'] });
  expect(stopped.choices[0].message.content).toBe('system: You are terse.');
});

test('chat streaming: SSE chunks reassemble to the full answer, then usage when asked for', async () => {
  const stream = await client.chat.completions.create({
    model: 'gpt-4o',
    messages,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let chunks = 0;
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | undefined | null;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.delta.content ?? '';
      finish = c.finish_reason ?? finish;
    }
  }
  expect(text).toBe('system: You are terse.\nuser: Hello there');
  expect(chunks).toBeGreaterThan(3);
  expect(finish).toBe('stop');
  expect(usage?.completion_tokens).toBe(countTokens(text));
});

test('completions: echoes the prompt, cut to the API default of 16 tokens', async () => {
  const short = await client.completions.create({ model: 'gpt-35-turbo-instruct', prompt: 'Say this is a test' });
  expect(short.choices[0].text).toBe('Say this is a test');
  const long =
    'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen';
  const cut = await client.completions.create({ model: 'gpt-35-turbo-instruct', prompt: long });
  expect(cut.choices[0].finish_reason).toBe('length');
  expect(cut.usage?.completion_tokens).toBe(16);
  expect(long.startsWith(cut.choices[0].text)).toBe(true);
});

test('embeddings: deterministic unit vectors; similar texts are closer than unrelated ones', async () => {
  const r = await client.embeddings.create({
    model: 'text-embedding-3-small',
    input: ['the cat sat on the mat', 'the cat sat on a mat', 'quarterly revenue grew strongly'],
  });
  const [a, b, c] = r.data.map((d) => d.embedding);
  expect(a).toHaveLength(256);
  const dot = (x: number[], y: number[]) => x.reduce((s, v, i) => s + v * y[i], 0);
  expect(dot(a, a)).toBeCloseTo(1, 5);
  expect(dot(a, b)).toBeGreaterThan(0.7);
  expect(Math.abs(dot(a, c))).toBeLessThan(0.3);
  const again = await client.embeddings.create({
    model: 'text-embedding-3-small',
    input: 'the cat sat on the mat',
    dimensions: 64,
    encoding_format: 'float',
  });
  expect(again.data[0].embedding).toHaveLength(64);
  expect(r.usage.prompt_tokens).toBeGreaterThan(0);
});

test('models: lists the stand-in model', async () => {
  const list = await client.models.list();
  expect(list.data.map((m) => m.id)).toEqual(['llmops-local-model']);
});

test('Azure paths through AzureOpenAI: api-key and Entra bearer token both work', async () => {
  const withKey = new AzureOpenAI({
    endpoint: server.url,
    apiKey: 'k',
    apiVersion: '2024-02-01',
    deployment: 'my-gpt4o',
    maxRetries: 0,
  });
  const c = await withKey.chat.completions.create({
    model: 'ignored-by-azure',
    messages: [{ role: 'user', content: 'hi' }],
  });
  expect(c.choices[0].message.content).toBe('user: hi');
  const tokens: string[] = [];
  const withToken = new AzureOpenAI({
    endpoint: server.url,
    apiVersion: '2024-02-01',
    deployment: 'my-embedder',
    maxRetries: 0,
    azureADTokenProvider: async () => {
      tokens.push('t');
      return 'entra-token';
    },
  });
  const e = await withToken.embeddings.create({ model: 'x', input: 'hello' });
  expect(e.data[0].embedding).toHaveLength(256);
  expect(tokens.length).toBeGreaterThan(0);
});

test('Azure paths without api-version are refused', async () => {
  const res = await fetch(`${server.url}/openai/deployments/d/chat/completions`, {
    method: 'POST',
    headers: { 'api-key': 'k', 'content-type': 'application/json' },
    body: JSON.stringify({ messages }),
  });
  expect(res.status).toBe(404);
  expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/api-version/);
});

test('malformed requests get OpenAI-shaped 400s naming the parameter', async () => {
  const cases: [unknown, string | null][] = [
    [{ model: 'gpt-4o' }, 'messages'],
    [{ messages }, 'model'],
    [{ model: 'gpt-4o', messages: 'hi' }, 'messages'],
    [{ model: 'gpt-4o', messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role'],
    [{ model: 'gpt-4o', messages, temperature: 'hot' }, 'temperature'],
    [{ model: 'gpt-4o', messages, response_format: { type: 'json_object' } }, 'messages'],
  ];
  for (const [body, param] of cases) {
    const err = await client.chat.completions.create(body as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(e.status).toBe(400);
    expect(e.error).toMatchObject({ type: 'invalid_request_error', param });
  }
  const raw = await fetch(`${server.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer k' },
    body: '{"model":',
  });
  expect(raw.status).toBe(400);
  expect(await raw.json()).toEqual({
    error: {
      message: expect.stringContaining('parse the JSON'),
      type: 'invalid_request_error',
      param: null,
      code: null,
    },
  });
});

test('requests without a key are refused with 401', async () => {
  const res = await fetch(`${server.url}/v1/chat/completions`, {
    method: 'POST',
    body: JSON.stringify({ model: 'm', messages }),
  });
  expect(res.status).toBe(401);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
});

test('rules: text answers with capture groups, JSON answers for json_object, tool calls', async () => {
  const text = await client.chat.completions.create({
    model: 'gpt-4o',
    messages: [{ role: 'user', content: 'What is the Capital of Peru?' }],
  });
  expect(text.choices[0].message.content).toBe('The capital of Peru is unknown to me.');

  const json = await client.chat.completions.create({
    model: 'gpt-4o',
    response_format: { type: 'json_object' },
    messages: [
      { role: 'system', content: 'Answer in JSON.' },
      { role: 'user', content: 'sentiment of: great movie' },
    ],
  });
  expect(JSON.parse(json.choices[0].message.content!)).toEqual({ sentiment: 'positive', text: 'great movie' });

  const tools = [
    {
      type: 'function' as const,
      function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
    },
  ];
  const call = await client.chat.completions.create({
    model: 'gpt-4o',
    tools,
    messages: [{ role: 'user', content: 'weather in Oslo please' }],
  });
  expect(call.choices[0].finish_reason).toBe('tool_calls');
  const tc = call.choices[0].message.tool_calls![0];
  expect(tc.type === 'function' && tc.function).toEqual({ name: 'get_weather', arguments: '{"city":"Oslo"}' });

  // After the tool answered, the rule does not fire again: the model answers (echo) instead of looping.
  const after = await client.chat.completions.create({
    model: 'gpt-4o',
    tools,
    messages: [
      { role: 'user', content: 'weather in Oslo please' },
      { role: 'assistant', content: null, tool_calls: [tc] },
      { role: 'tool', tool_call_id: tc.id, content: '12 degrees' },
    ],
  });
  expect(after.choices[0].message.content).toBe(
    'user: weather in Oslo please\nassistant: -> get_weather({"city":"Oslo"})\ntool: 12 degrees',
  );
});

test('json_object without a rule: the echo comes as JSON', async () => {
  const c = await client.chat.completions.create({
    model: 'gpt-4o',
    response_format: { type: 'json_object' },
    messages: [{ role: 'user', content: 'reply in json' }],
  });
  expect(JSON.parse(c.choices[0].message.content!)).toEqual({ echo: [{ role: 'user', content: 'reply in json' }] });
});

test('rpm limit: 429 with Retry-After and an OpenAI-shaped body', async () => {
  const limited = await startModelServer({ rpm: 2, windowMs: 60_000 });
  try {
    const c = new OpenAI({ apiKey: 'k', baseURL: `${limited.url}/v1`, maxRetries: 0 });
    await c.chat.completions.create({ model: 'm', messages });
    await c.chat.completions.create({ model: 'm', messages });
    const err = (await c.chat.completions.create({ model: 'm', messages }).catch((e: unknown) => e)) as InstanceType<
      typeof OpenAI.RateLimitError
    >;
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.status).toBe(429);
    const retryAfter = Number(err.headers?.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(59);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(err.error).toMatchObject({ code: 'rate_limit_exceeded', type: 'requests' });
    expect(limited.stats().rateLimited).toBe(1);
  } finally {
    await limited.close();
  }
});

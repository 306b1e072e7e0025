import path from 'node:path';
import {
  PythonCodeError,
  PythonWorkerPool,
  type PythonCallbacks,
} from '../../../src/shared/engine/python-worker/index.js';

const nodesDir = path.join(process.cwd(), 'tests/engine/python-worker/fixtures/nodes');

test('Prompty, aoai chat, render and parse_chat call back into the engine handlers', async () => {
  const seen: Array<{ kind: string; req: unknown; context: unknown }> = [];
  const callbacks: PythonCallbacks = {
    async llm(req, ctx) {
      seen.push({ kind: 'llm', req, context: ctx.context });
      return `llm says ${String((req.params.inputs as { q: string }).q)}`;
    },
    async prompty(req, ctx) {
      seen.push({ kind: 'prompty', req, context: ctx.context });
      if (req.inputs.question === 'fail please') throw Object.assign(new Error('model refused'), { name: 'LLMError' });
      await new Promise((r) => setTimeout(r, 5));
      return `prompty answer to ${String(req.inputs.question)}`;
    },
    async render(req) {
      return req.template.replace('{{name}}', String(req.inputs.name));
    },
    async parseChat(req) {
      return [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: req.text.length },
      ];
    },
  };
  const connections = {
    aoai: { type: 'AzureOpenAIConnection', value: { api_key: 'k', api_base: 'https://a/' }, secret_keys: ['api_key'] },
  };
  const pool = new PythonWorkerPool({ workingDir: nodesDir, callbacks, connections });
  try {
    const result = await pool.call(
      'callback_tool.py',
      { conn: 'aoai', question: 'why?' },
      { node: 'ask', context: { line: 4 } },
    );
    expect(result.output).toEqual({
      answer: 'llm says why?',
      summary: 'prompty answer to why?',
      rendered: 'Hi Ada!',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 25 },
      ],
      failed: 'EngineCallError: model refused',
    });
    const llm = seen.find((s) => s.kind === 'llm')!;
    expect(llm.context).toEqual({ line: 4 });
    expect(llm.req).toEqual({
      connection: {
        name: 'aoai',
        type: 'AzureOpenAIConnection',
        secret_keys: ['api_key'],
        value: { api_key: 'k', api_base: 'https://a/', api_type: 'azure', api_version: '2024-02-01', auth_mode: 'key' },
      },
      api: 'chat',
      params: {
        provider: 'AzureOpenAI',
        prompt: 'user:\n{{q}}',
        deployment_name: 'gpt-4o',
        max_tokens: 5,
        inputs: { q: 'why?' },
      },
    });
    const prompty = seen.find((s) => s.kind === 'prompty')!;
    expect(prompty.req).toEqual({
      path: path.join(nodesDir, 'chat.prompty'),
      overrides: { model: { parameters: { temperature: 0 } } },
      inputs: { question: 'why?' },
      action: 'call',
    });
  } finally {
    await pool.close();
  }
});

test('a callback the engine does not handle fails the call with a clear message', async () => {
  const connections = { aoai: { type: 'AzureOpenAIConnection', value: { api_key: 'k', api_base: 'https://a/' } } };
  const pool = new PythonWorkerPool({ workingDir: nodesDir, connections });
  try {
    const err = await pool
      .call('callback_tool.py', { conn: 'aoai', question: 'x' }, { node: 'ask' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PythonCodeError);
    expect((err as PythonCodeError).message).toBe(
      "Execution failure in 'ask': (EngineCallError) The engine does not handle 'llm_call' callbacks",
    );
  } finally {
    await pool.close();
  }
});

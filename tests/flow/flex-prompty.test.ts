import { join } from 'node:path';
import { loadFlow, loadPrompty, type FlexFlow, type PromptyFlow } from '../../src/shared/flow/index.js';
import { FIXTURES, problemsOf, writeFlow } from './helpers.js';
import { preparePrompty } from '../../src/shared/engine/index.js';

describe('flex flows (§5.1)', () => {
  test('a function entry with an inline sample', () => {
    const flow = loadFlow(join(FIXTURES, 'good', 'flex-function'), { displayBase: FIXTURES }) as FlexFlow;
    expect(flow).toMatchObject({
      kind: 'flex',
      entry: 'programmer:write_simple_program',
      entryModule: 'programmer',
      entryName: 'write_simple_program',
      entryFile: join(FIXTURES, 'good/flex-function/programmer.py'),
      workingDir: join(FIXTURES, 'good/flex-function'),
      sample: { inputs: { text: 'Hello World!' } },
      environment: { python_requirements_txt: 'requirements.txt' },
    });
  });

  test('a class entry: code moves the working dir, init signature, sample from ${file:}', () => {
    const flow = loadFlow(join(FIXTURES, 'good', 'flex-class'), { displayBase: FIXTURES }) as FlexFlow;
    expect(flow.workingDir).toBe(join(FIXTURES, 'good/flex-class/src'));
    expect(flow.entryFile).toBe(join(FIXTURES, 'good/flex-class/src/flow.py'));
    expect(flow.init.model_config).toMatchObject({ type: 'AzureOpenAIModelConfiguration', hasDefault: false });
    expect(flow.init.max_total_token).toMatchObject({ type: 'int', default: 1024 });
    expect(flow.inputs.chat_history).toMatchObject({ type: 'list', default: [] });
    expect(flow.outputs.answer).toMatchObject({ type: 'string' });
    expect(flow.sample).toEqual({
      inputs: { question: 'What is Azure ML?' },
      init: { model_config: { connection: 'open_ai_connection', azure_deployment: 'gpt-4o' } },
    });
  });

  test('signature types and a missing code folder are reported with positions', () => {
    const dir = writeFlow({ 'flow.flex.yaml': 'entry: app:main\ncode: nowhere\ninputs:\n  q: {type: image}\n' });
    expect(problemsOf(() => loadFlow(dir, { displayBase: dir }))).toEqual([
      'flow.flex.yaml:2:7: code: found "nowhere", but no such folder exists; expected the code folder relative to flow.flex.yaml',
      'flow.flex.yaml:4:13: inputs.q.type: found the text "image", expected one of: string, int, double, bool, list, object',
    ]);
  });
});

describe('prompty files (§5.2)', () => {
  const file = join(FIXTURES, 'good', 'prompty', 'basic.prompty');

  test('front matter, model, inputs, sample from ${file:} and the template with its first line', () => {
    const flow = loadPrompty(file, { env: {}, displayBase: FIXTURES });
    expect(flow).toMatchObject({
      kind: 'prompty',
      name: 'Basic Prompt',
      templateLine: 22,
      templateEngine: 'jinja2',
      displayFile: 'good/prompty/basic.prompty',
    });
    expect(flow.model).toMatchObject({
      api: 'chat',
      response: 'first',
      parameters: { max_tokens: 128, temperature: 0.2 },
    });
    expect(flow.inputs.question).toMatchObject({ type: 'string', hasDefault: false, at: { line: 15, column: 3 } });
    expect(flow.sample).toEqual({ question: 'What is Prompt Flow?', chat_history: [] });
    expect(flow.template.startsWith('system:\nYou are an AI assistant')).toBe(true);
  });

  test('${env:NAME} takes the value when set and stays literal when unset', () => {
    const flow = loadPrompty(file, { env: { AZURE_OPENAI_ENDPOINT: 'https://example.openai.azure.com' } });
    expect(flow.model.configuration).toMatchObject({
      azure_endpoint: 'https://example.openai.azure.com',
      api_key: '${env:LLMOPS_TEST_UNSET_KEY}',
    });
  });

  test('an unset ${env:NAME} in model.configuration is an error at its line once the model is to be called', () => {
    const flow = loadPrompty(file, {
      env: { AZURE_OPENAI_ENDPOINT: 'https://example.openai.azure.com' },
      displayBase: FIXTURES,
    });
    expect(problemsOf(() => preparePrompty(flow, {}, {}))).toEqual([
      'good/prompty/basic.prompty:10:14: model.configuration.api_key: found ${env:LLMOPS_TEST_UNSET_KEY}, but the environment variable LLMOPS_TEST_UNSET_KEY is not set; expected it set where the flow runs',
    ]);
    // A named connection does not read the inline values.
    const named = loadPrompty(file, { env: {}, overrides: { model: { configuration: { connection: 'aoai' } } } });
    const aoai = {
      name: 'aoai',
      type: 'AzureOpenAIConnection',
      value: { api_base: 'https://a.example', api_key: 'k' },
      secretKeys: ['api_key'],
    };
    expect(preparePrompty(named, { aoai }, {}).connection.name).toBe('aoai');
  });

  test('overrides are deep-merged over the resolved front matter, their ${file:} resolved too', () => {
    const flow = loadPrompty(file, {
      env: {},
      overrides: {
        model: { configuration: { azure_deployment: 'gpt-4o-mini' }, parameters: { tools: '${file:tools.yaml}' } },
      },
    });
    expect(flow.model.configuration).toMatchObject({ type: 'azure_openai', azure_deployment: 'gpt-4o-mini' });
    expect(flow.model.parameters).toEqual({
      max_tokens: 128,
      temperature: 0.2,
      tools: [{ type: 'function', function: { name: 'get_weather' } }],
    });
  });

  test("loadFlow picks a folder's only .prompty; the name defaults to the file stem", () => {
    const dir = writeFlow({ 'ask.prompty': '---\nmodel: {api: completion}\n---\n{{question}}\n' });
    const flow = loadFlow(dir) as PromptyFlow;
    expect(flow).toMatchObject({
      kind: 'prompty',
      name: 'ask',
      template: '{{question}}\n',
      templateLine: 4,
      model: { api: 'completion' },
    });
  });

  test('a text file becomes text, CRLF files keep their line numbers', () => {
    const dir = writeFlow({
      'p.prompty': '---\r\nname: x\r\nsample:\r\n  note: ${file:note.txt}\r\nmodel: {api: chats}\r\n---\r\nhi\r\n',
      'note.txt': 'hello',
    });
    expect(problemsOf(() => loadPrompty(join(dir, 'p.prompty'), { displayBase: dir }))).toEqual([
      'p.prompty:5:14: model.api: found "chats", expected chat or completion',
    ]);
  });

  test('the greedy front matter: a "---" line in the body is named even when the swallowed text is valid YAML', () => {
    const dir = writeFlow({ 'g.prompty': '---\nname: g\n---\nuser:\n---\nq\n' });
    // "user:" alone is valid YAML, but it sits in a second document: Prompt Flow fails on it too.
    expect(problemsOf(() => loadPrompty(join(dir, 'g.prompty'), { displayBase: dir }))[0]).toMatch(
      /^g\.prompty:3:1: found another "---" line after the front matter/,
    );
  });
});

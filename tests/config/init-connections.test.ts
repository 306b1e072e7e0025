/**
 * experiment.yaml `init:` per flow (a flex class flow's constructor arguments) and the connection names
 * flows use: resolved at load by the same rule their runs use, so what validates runs.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, formatProblem } from '../../src/shared/errors.js';
import { loadUseCase } from '../../src/shared/config/use-case.js';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { baseEnv, baseExperiment, experimentWith as x, makeUseCase } from '../helpers/use-case-dir.js';

type Files = Record<string, string | null>;

function attempt(
  files: Files,
  processEnv: Record<string, string> = baseEnv,
  extra: { dotenv?: string; needs?: 'bulk-run' | 'evaluate' | 'report' } = {},
) {
  const uc = makeUseCase(files);
  if (extra.dotenv !== undefined) writeFileSync(path.join(uc.dir, '.env'), extra.dotenv);
  const host = new MemoryHost();
  try {
    const useCase = loadUseCase({ configPath: 'experiment.yaml', cwd: uc.dir, processEnv, host, needs: extra.needs });
    return { useCase, host, problems: [] as string[] };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return { useCase: undefined, host, problems: e.problems.map(formatProblem) };
  } finally {
    uc.cleanup();
  }
}

const classFlow = {
  'flows/chat/flow.flex.yaml':
    'entry: chat:ChatFlow\ninputs:\n  question:\n    type: string\noutputs:\n  answer:\n    type: string\ninit:\n  model_config:\n    type: AzureOpenAIModelConfiguration\n  max_total_token:\n    type: int\n    default: 1024\n  tag:\n    type: string\n    default: none\n  owner:\n    type: string\n    default: none\n',
  'flows/chat/chat.py':
    'class ChatFlow:\n    def __init__(self, model_config, max_total_token=1024):\n        self.model_config = model_config\n    def __call__(self, question):\n        return {"answer": question}\n',
};

const withInit = (init: string) => x('flow: flows/std\n', `flow: flows/chat\ninit:\n${init}`);

describe('init per flow in experiment.yaml', () => {
  test('given to the standard flow, with ${...} placeholders resolved the way the template names them, and masked', () => {
    const files = {
      ...classFlow,
      'experiment.yaml': withInit(
        '  model_config:\n    connection: aoai\n    azure_deployment: gpt-4o\n    api_key: ${api_key}\n  max_total_token: 2048\n  tag: ${env:RUN_TAG}\n  owner: ${TEAM_OWNER}\n',
      ),
    };
    const env = { ...baseEnv, MODEL_CONFIG_API_KEY: 'init-secret-5678', RUN_TAG: 'nightly', TEAM_OWNER: 'data-team' };
    const r = attempt(files, env);
    expect(r.problems).toEqual([]);
    expect(r.useCase!.flow.init).toEqual({
      model_config: { connection: 'aoai', azure_deployment: 'gpt-4o', api_key: 'init-secret-5678' },
      max_total_token: 2048,
      tag: 'nightly',
      owner: 'data-team',
    });
    expect(r.useCase!.secrets).toEqual(expect.arrayContaining(['init-secret-5678', 'nightly', 'data-team']));
    expect(r.host.secrets.has('init-secret-5678')).toBe(true);
  });

  test('a flow without init in experiment.yaml has no init (the flow keeps its own defaults)', () => {
    expect(attempt({}).useCase!.flow.init).toBeUndefined();
  });

  test('given to an evaluator flow', () => {
    const files = {
      ...classFlow,
      'experiment.yaml': baseExperiment.replace(
        '    flow: flows/eval\n',
        '    flow: flows/chat\n    init:\n      model_config:\n        connection: aoai\n',
      ),
    };
    const r = attempt(files);
    expect(r.problems).toEqual([]);
    expect(r.useCase!.evaluators[0].flow!.init).toEqual({ model_config: { connection: 'aoai' } });
    expect(r.useCase!.flow.init).toBeUndefined();
  });

  test('an unset placeholder is one error at its place, naming the variables looked for and no value', () => {
    const r = attempt({ ...classFlow, 'experiment.yaml': withInit('  model_config:\n    api_key: ${api_key}\n') });
    expect(r.problems).toEqual([
      'experiment.yaml:5:14: init.model_config.api_key: none of the environment variables MODEL_CONFIG_API_KEY, api_key is set (needed for the placeholder ${api_key}); set it in your CI secrets or in .env at the repository root',
    ]);
  });

  test('the placeholder is read from .env at the repository root too', () => {
    const r = attempt(
      { ...classFlow, 'experiment.yaml': withInit('  model_config:\n    api_key: ${api_key}\n') },
      baseEnv,
      { dotenv: 'MODEL_CONFIG_API_KEY=from-dotenv-1234\n' },
    );
    expect(r.useCase!.flow.init).toEqual({ model_config: { api_key: 'from-dotenv-1234' } });
  });

  test('init for a DAG flow is an error: only a flex class flow takes constructor arguments', () => {
    const r = attempt({ 'experiment.yaml': x('flow: flows/std\n', 'flow: flows/std\ninit:\n  k: 1\n') });
    expect(r.problems).toEqual([
      'experiment.yaml:3:1: init: flow.dag.yaml is a dag flow, which takes no init arguments; expected init only for a flex flow with a class entry',
    ]);
  });

  test('a misspelt init argument of a flow that declares its init is caught with a suggestion', () => {
    const r = attempt({ ...classFlow, 'experiment.yaml': withInit('  max_total_tokens: 10\n') });
    expect(r.problems).toEqual([
      'experiment.yaml:4:3: init.max_total_tokens: not an init argument of flows/chat/flow.flex.yaml; did you mean "max_total_token"?',
    ]);
  });

  test('init must be a mapping', () => {
    const r = attempt({ ...classFlow, 'experiment.yaml': x('flow: flows/std\n', 'flow: flows/chat\ninit: [1, 2]\n') });
    expect(r.problems).toEqual(['experiment.yaml:3:7: init: found a list, expected a mapping']);
  });
});

describe('connections named only in a flow', () => {
  const llmFlow = (connection: string) =>
    `inputs:\n  question:\n    type: string\noutputs:\n  answer:\n    type: string\n    reference: \${ask.output}\nnodes:\n- name: ask\n  type: llm\n  source:\n    type: code\n    path: ask.jinja2\n  inputs:\n    deployment_name: gpt-4o\n    question: \${inputs.question}\n  connection: ${connection}\n  api: chat\n`;
  const files = { 'flows/std/flow.dag.yaml': llmFlow('azure_env'), 'flows/std/ask.jinja2': 'user:\n{{question}}\n' };
  const azureEnv = { ...baseEnv, AZURE_OPENAI_ENDPOINT: 'http://127.0.0.1:9', AZURE_OPENAI_API_KEY: 'env-key-abcdef' };

  test('resolve from the environment at load, joining the connections the runs use under their name', () => {
    const r = attempt(files, azureEnv);
    expect(r.problems).toEqual([]);
    const c = r.useCase!.connections.find((k) => k.name === 'azure_env');
    expect(c).toMatchObject({
      type: 'AzureOpenAIConnection',
      value: { api_base: 'http://127.0.0.1:9', api_key: 'env-key-abcdef' },
    });
    expect(r.host.secrets.has('env-key-abcdef')).toBe(true);
  });

  test('resolve from .env the same way', () => {
    const r = attempt(files, baseEnv, { dotenv: 'OPENAI_API_KEY=dotenv-openai-key\n' });
    expect(r.useCase!.connections.find((k) => k.name === 'azure_env')).toMatchObject({
      type: 'OpenAIConnection',
      value: { api_key: 'dotenv-openai-key' },
    });
  });

  test('a connection the experiment defines wins over the environment', () => {
    const r = attempt({ ...files, 'flows/std/flow.dag.yaml': llmFlow('aoai') }, azureEnv);
    expect(r.useCase!.connections.filter((k) => k.name === 'aoai')).toHaveLength(1);
    expect(r.useCase!.connections.find((k) => k.name === 'aoai')!.value.api_key).toBe(baseEnv.AOAI_API_KEY);
  });

  test('unresolved: one error at the flow node naming it, with the variables looked for and none of their values', () => {
    const r = attempt(files, { ...baseEnv, AZURE_OPENAI_ENDPOINT: 'http://127.0.0.1:9' });
    expect(r.problems).toEqual([
      'flows/std/flow.dag.yaml:17:3: node ask (llm): connection "azure_env" is not defined: it is not in the connections of experiment.yaml, and the environment has none to stand in for it (looked for AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY, or OPENAI_API_KEY); add it to connections in experiment.yaml, or set those variables in CI secrets or .env at the repository root',
    ]);
    expect(r.problems.join('\n')).not.toContain('127.0.0.1');
  });

  test('unresolved blocks the steps that run the flow, not report', () => {
    expect(attempt(files, baseEnv, { needs: 'bulk-run' }).problems).toHaveLength(1);
    expect(attempt(files, baseEnv, { needs: 'report' }).problems).toEqual([]);
  });

  test('a python node input holding a connection, and a model configuration in init, are checked too', () => {
    const py =
      'inputs:\n  question:\n    type: string\noutputs:\n  answer:\n    type: string\n    reference: ${setup.output}\nnodes:\n- name: setup\n  type: python\n  source:\n    type: code\n    path: setup.py\n  inputs:\n    conn: search_conn\n    question: ${inputs.question}\n';
    const r = attempt({
      'flows/std/flow.dag.yaml': py,
      'flows/std/setup.py': 'def setup(conn, question):\n    return question\n',
    });
    expect(r.problems).toEqual([
      expect.stringMatching(
        /^flows\/std\/flow\.dag\.yaml:15:11: node setup \(python\) input conn: connection "search_conn" is not defined/,
      ),
    ]);
    const flex = attempt({
      ...classFlow,
      'experiment.yaml': withInit('  model_config:\n    connection: other_aoai\n'),
    });
    expect(flex.problems).toEqual([
      expect.stringMatching(/^experiment\.yaml:5:17: init model_config: connection "other_aoai" is not defined/),
    ]);
  });

  test('init.json beside a class flow naming a connection is checked at its line', () => {
    const r = attempt({
      ...classFlow,
      'flows/chat/init.json': '{\n  "model_config": {\n    "connection": "json_conn"\n  }\n}\n',
      'experiment.yaml': x('flow: flows/std', 'flow: flows/chat'),
    });
    expect(r.problems).toEqual([
      expect.stringMatching(/^flows\/chat\/init\.json:3:19: init model_config: connection "json_conn" is not defined/),
    ]);
  });
});

describe('the connection of a built-in judge', () => {
  const judge = (connection: string) =>
    x(
      '    flow: flows/eval\n',
      `    builtin: relevance\n    options:\n      connection: ${connection}\n      deployment: gpt-4o\n`,
    );

  test('defined in the experiment: loads', () => {
    expect(attempt({ 'experiment.yaml': judge('aoai') }).problems).toEqual([]);
  });

  test('unresolved: one error at options.connection that blocks evaluate only', () => {
    const r = attempt({ 'experiment.yaml': judge('judge_aoai') });
    expect(r.problems).toEqual([
      expect.stringMatching(
        /^experiment\.yaml:17:19: evaluators\[0\]\.options\.connection: connection "judge_aoai" is not defined/,
      ),
    ]);
    expect(attempt({ 'experiment.yaml': judge('judge_aoai') }, baseEnv, { needs: 'bulk-run' }).problems).toEqual([]);
    expect(attempt({ 'experiment.yaml': judge('judge_aoai') }, baseEnv, { needs: 'evaluate' }).problems).toHaveLength(
      1,
    );
  });
});

test('a missing connection used by several nodes is one problem, at its first place, naming the others', () => {
  const node = (name: string, after: string) =>
    `- name: ${name}\n  type: llm\n  source:\n    type: code\n    path: ask.jinja2\n  inputs:\n    deployment_name: gpt-4o\n    question: ${after}\n  connection: shared_conn\n  api: chat\n`;
  const flow = `inputs:\n  question:\n    type: string\noutputs:\n  answer:\n    type: string\n    reference: \${second.output}\nnodes:\n${node('first', '${inputs.question}')}${node('second', '${first.output}')}`;
  const r = attempt({ 'flows/std/flow.dag.yaml': flow, 'flows/std/ask.jinja2': 'user:\n{{question}}\n' });
  expect(r.problems).toHaveLength(1);
  expect(r.problems[0]).toMatch(
    /^flows\/std\/flow\.dag\.yaml:17:3: node first \(llm\): connection "shared_conn" is not defined: .*; also used by node second \(llm\)$/,
  );
});

test('init on a built-in evaluator is an error pointing at options', () => {
  const r = attempt({
    'experiment.yaml': x('    flow: flows/eval\n', '    builtin: exact_match\n    init:\n      k: 1\n'),
  });
  expect(r.problems).toEqual([
    'experiment.yaml:16:5: evaluators[0].init: a built-in evaluator takes no init arguments, expected its settings under options',
  ]);
});

/**
 * Flex class flows as the template writes them: `__init__` arguments from flow.flex.yaml `init:` defaults (with
 * placeholders), `init.json` beside the flow file, and the caller (--init, experiment.yaml), in that order; a
 * model configuration's `connection:` resolves like an llm node's, with the same environment fallback.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Connection } from '../../../src/shared/config/connections.js';
import { ConfigError } from '../../../src/shared/errors.js';
import { loadFlow, resolveFlexInit, type FlexFlow } from '../../../src/shared/flow/index.js';
import { createExecutor, type ExecutorOptions } from '../../../src/shared/engine/index.js';
import { startModelServer, type ModelServerHandle } from '../../../src/model-server/index.js';

let root: string;
let server: ModelServerHandle;
let fromEnv: Connection;
beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'llmops-flex-init-'));
  mkdirSync(path.join(root, '.git'));
  server = await startModelServer({});
  fromEnv = {
    name: 'from_env',
    type: 'AzureOpenAIConnection',
    value: { api_base: server.url, api_key: 'k', api_version: '2024-02-01' },
    secretKeys: ['api_key'],
  };
});
afterAll(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

const FLEX_YAML = `entry: flow:ChatFlow
inputs:
  question:
    type: string
init:
  model_config:
    type: AzureOpenAIModelConfiguration
    default:
      azure_endpoint: \${azure_endpoint}
      azure_deployment: gpt-35-turbo
      api_key: \${api_key}
  max_total_token:
    type: int
    default: 4096
  greeting:
    type: string
    default: from yaml
`;

const FLOW_PY = `from pathlib import Path

from promptflow.core import AzureOpenAIModelConfiguration, Prompty

BASE = Path(__file__).absolute().parent


class ChatFlow:
    def __init__(self, model_config: AzureOpenAIModelConfiguration, max_total_token=1, greeting: str = "none"):
        self.model_config = model_config
        self.max_total_token = max_total_token
        self.greeting = greeting

    def __call__(self, question: str) -> dict:
        prompty = Prompty.load(source=BASE / "chat.prompty", model={"configuration": self.model_config})
        return {
            "answer": prompty(question=question),
            "greeting": self.greeting,
            "max_total_token": self.max_total_token,
            "max_type": type(self.max_total_token).__name__,
            "endpoint": self.model_config.azure_endpoint,
        }
`;

const PROMPTY = `---
name: chat
model:
  api: chat
  configuration:
    type: azure_openai
    azure_deployment: gpt-35-turbo
inputs:
  question:
    type: string
---
system:
You answer.

user:
{{question}}
`;

let counter = 0;
function classFlow(extra: Record<string, string> = {}): string {
  const dir = path.join(root, `chat${++counter}`);
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries({
    'flow.flex.yaml': FLEX_YAML,
    'flow.py': FLOW_PY,
    'chat.prompty': PROMPTY,
    ...extra,
  }))
    writeFileSync(path.join(dir, name), text);
  return dir;
}

async function runOne(dir: string, options: ExecutorOptions): Promise<Record<string, unknown>> {
  const executor = await createExecutor(loadFlow(dir), { lineTimeoutMs: 0, ...options });
  try {
    const r = await executor.runLine({ question: 'what is up' });
    if (r.status !== 'Completed') throw new Error(JSON.stringify(r.error));
    return r.outputs!;
  } finally {
    await executor.close();
  }
}

describe('resolveFlexInit', () => {
  const initJson = JSON.stringify({
    model_config: { connection: 'aoai', azure_deployment: 'gpt-35-turbo' },
    greeting: 'from init.json',
  });

  test('flow.flex.yaml defaults < init.json < the caller, per argument', () => {
    const flow = loadFlow(classFlow({ 'init.json': initJson })) as FlexFlow;
    const init = resolveFlexInit(flow, { greeting: 'from the caller' }, () => undefined);
    expect(init.values).toEqual({
      model_config: { connection: 'aoai', azure_deployment: 'gpt-35-turbo' },
      max_total_token: 4096,
      greeting: 'from the caller',
    });
    expect(init.origins.max_total_token).toMatch(/flow\.flex\.yaml$/);
    expect(init.origins.model_config).toMatch(/init\.json$/);
  });

  test('placeholders of the values used are read as connections read theirs: <PARAM>_<X>', () => {
    const flow = loadFlow(classFlow()) as FlexFlow;
    const env: Record<string, string> = {
      MODEL_CONFIG_AZURE_ENDPOINT: 'https://x.example',
      MODEL_CONFIG_API_KEY: 'sk-1',
    };
    const init = resolveFlexInit(flow, {}, (n) => env[n]);
    expect(init.values.model_config).toEqual({
      azure_endpoint: 'https://x.example',
      azure_deployment: 'gpt-35-turbo',
      api_key: 'sk-1',
    });
    expect(init.secrets.sort()).toEqual(['https://x.example', 'sk-1']);
  });

  test('a placeholder without its variable is a problem at its line, unless a later source gives the argument', () => {
    const flow = loadFlow(classFlow()) as FlexFlow;
    let err: unknown;
    try {
      resolveFlexInit(flow, {}, () => undefined);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems.map((p) => [p.line, p.message])).toEqual([
      [
        9,
        'init model_config.azure_endpoint: environment variable MODEL_CONFIG_AZURE_ENDPOINT is not set (needed for the placeholder ${azure_endpoint}); set it in your CI secrets or in .env at the repository root',
      ],
      [
        11,
        'init model_config.api_key: environment variable MODEL_CONFIG_API_KEY is not set (needed for the placeholder ${api_key}); set it in your CI secrets or in .env at the repository root',
      ],
    ]);
    const overridden = loadFlow(classFlow({ 'init.json': initJson })) as FlexFlow;
    expect(() => resolveFlexInit(overridden, {}, () => undefined)).not.toThrow();
  });

  test('an init.json that is not a JSON object is a load problem with its position', () => {
    expect(() => loadFlow(classFlow({ 'init.json': '{"model_config": ' }))).toThrow(/init\.json:1:\d+: invalid JSON/);
    expect(() => loadFlow(classFlow({ 'init.json': '[1]' }))).toThrow(
      /init\.json:1:1: found no JSON object, expected a JSON object of __init__ arguments/,
    );
  });
});

describe('running a class flow', () => {
  const initJson = JSON.stringify({
    model_config: { connection: 'aoai', azure_deployment: 'gpt-35-turbo' },
    greeting: 'from init.json',
  });

  test("init.json naming connection aoai, which only the environment provides: resolved like an llm node's connection", async () => {
    const before = server.stats().requests;
    const out = await runOne(classFlow({ 'init.json': initJson }), { fallbackConnection: fromEnv });
    expect(out.answer).toContain('what is up');
    expect(out).toMatchObject({
      greeting: 'from init.json',
      max_total_token: 4096,
      max_type: 'int',
      endpoint: server.url,
    });
    expect(server.stats().requests).toBe(before + 1);
  });

  test('a defined connection wins over the environment', async () => {
    const aoai: Connection = {
      name: 'aoai',
      type: 'AzureOpenAIConnection',
      value: { api_base: `${server.url}/`, api_key: 'k2', api_version: '2024-02-01' },
      secretKeys: ['api_key'],
    };
    const out = await runOne(classFlow({ 'init.json': initJson }), {
      connections: [aoai],
      fallbackConnection: fromEnv,
    });
    expect(out.endpoint).toBe(`${server.url}/`);
  });

  test('no connection and no environment: exit 2 before any model call, naming the connection', async () => {
    const before = server.stats().requests;
    await expect(runOne(classFlow({ 'init.json': initJson }), {})).rejects.toThrow(
      'entry flow:ChatFlow: connection "aoai" is not defined; expected one of: (no connections given: use --connections, experiment.yaml connections, or AZURE_OPENAI_*/OPENAI_API_KEY)',
    );
    expect(server.stats().requests).toBe(before);
  });

  test("the caller's text arguments are converted by the declared type or the __init__ annotation (JSON for a model configuration)", async () => {
    const modelConfig = JSON.stringify({ azure_endpoint: server.url, api_key: 'k', azure_deployment: 'gpt-35-turbo' });
    const out = await runOne(classFlow(), {
      init: { max_total_token: '7', greeting: 'from --init', model_config: modelConfig },
      initText: ['max_total_token', 'greeting', 'model_config'],
    });
    expect(out).toMatchObject({ greeting: 'from --init', max_total_token: 7, max_type: 'int', endpoint: server.url });
    expect(out.answer).toContain('what is up');
  });

  test('placeholders in the YAML defaults come from the environment', async () => {
    process.env.MODEL_CONFIG_AZURE_ENDPOINT = server.url;
    process.env.MODEL_CONFIG_API_KEY = 'k';
    try {
      const secrets: string[] = [];
      const out = await runOne(classFlow(), { onSecret: (v) => secrets.push(v) });
      expect(out).toMatchObject({ greeting: 'from yaml', endpoint: server.url });
      expect(secrets.sort()).toEqual(['k', server.url].sort());
    } finally {
      delete process.env.MODEL_CONFIG_AZURE_ENDPOINT;
      delete process.env.MODEL_CONFIG_API_KEY;
    }
  });
});

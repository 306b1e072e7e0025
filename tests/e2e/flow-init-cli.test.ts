/**
 * `llmops flow test|run|serve` with a flex class flow: init.json beside the flow file, --init-file and --init over
 * it, the environment's Azure OpenAI connection standing in for the `aoai` a model configuration names.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';

const cli = path.resolve('dist/cli.js');
let server: ModelServerHandle;
let dir: string;

const FLOW_PY = `from pathlib import Path

from promptflow.core import AzureOpenAIModelConfiguration, Prompty


class Chat:
    def __init__(self, model_config: AzureOpenAIModelConfiguration, max_total_token: int = 1, tone: str = "plain"):
        self.model_config = model_config
        self.max_total_token = max_total_token
        self.tone = tone

    def __call__(self, question: str) -> dict:
        prompty = Prompty.load(source=Path(__file__).parent / "chat.prompty", model={"configuration": self.model_config})
        return {"answer": prompty(question=question), "tone": self.tone, "limit": self.max_total_token}
`;

beforeAll(async () => {
  server = await startModelServer({});
  dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-flow-init-'));
  mkdirSync(path.join(dir, '.git'));
  mkdirSync(path.join(dir, 'chat'));
  writeFileSync(
    path.join(dir, 'chat/flow.flex.yaml'),
    'entry: flow:Chat\ninit:\n  max_total_token:\n    type: int\n    default: 4096\n',
  );
  writeFileSync(path.join(dir, 'chat/flow.py'), FLOW_PY);
  writeFileSync(
    path.join(dir, 'chat/chat.prompty'),
    '---\nname: chat\nmodel:\n  api: chat\n  configuration:\n    type: azure_openai\n    azure_deployment: gpt-35-turbo\ninputs:\n  question:\n    type: string\n---\nuser:\n{{question}}\n',
  );
  writeFileSync(
    path.join(dir, 'chat/init.json'),
    JSON.stringify({ model_config: { connection: 'aoai', azure_deployment: 'gpt-35-turbo' }, tone: 'from init.json' }),
  );
  writeFileSync(path.join(dir, 'init-override.json'), JSON.stringify({ tone: 'from --init-file', max_total_token: 9 }));
  writeFileSync(path.join(dir, 'data.jsonl'), '{"question": "first"}\n{"question": "second"}\n');
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const env = () => ({
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '',
  AZURE_OPENAI_ENDPOINT: server.url,
  AZURE_OPENAI_API_KEY: 'local-key',
});

function cliRun(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: dir, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

test('flow test: init.json, then --init-file, then --init (text converted by the declared type)', async () => {
  const plain = await cliRun(['flow', 'test', 'chat', '--inputs', 'question=hello there']);
  expect(plain.stderr).not.toContain('internal error');
  expect(plain.code).toBe(0);
  expect(JSON.parse(plain.stdout)).toMatchObject({
    tone: 'from init.json',
    limit: 4096,
    answer: expect.stringContaining('hello there'),
  });

  const overridden = await cliRun([
    'flow',
    'test',
    'chat',
    '--inputs',
    'question=q',
    '--init-file',
    'init-override.json',
    '--init',
    'max_total_token=12',
  ]);
  expect(overridden.code).toBe(0);
  expect(JSON.parse(overridden.stdout)).toMatchObject({ tone: 'from --init-file', limit: 12 });

  const bad = await cliRun(['flow', 'test', 'chat', '--inputs', 'question=q', '--init', 'max_total_token=many']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('--init: error: max_total_token: found "many", expected a value of type int');
}, 60_000);

test('flow test as the template READMEs write it for pf: --init init.json --inputs sample.json (JSON files)', async () => {
  writeFileSync(path.join(dir, 'sample.json'), JSON.stringify({ question: 'from sample.json' }));
  writeFileSync(path.join(dir, 'line.jsonl'), '{"question": "from a jsonl line"}\n{"question": "second"}\n');
  const r = await cliRun(['flow', 'test', 'chat', '--init', 'init-override.json', '--inputs', 'sample.json']);
  expect(r.stderr).not.toContain('internal error');
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({
    tone: 'from --init-file',
    limit: 9,
    answer: expect.stringContaining('from sample.json'),
  });

  const jsonl = await cliRun([
    'flow',
    'test',
    'chat',
    '--inputs',
    'line.jsonl',
    '--init',
    'init-override.json',
    '--init',
    'tone=pair wins',
  ]);
  expect(jsonl.code).toBe(0);
  expect(JSON.parse(jsonl.stdout)).toMatchObject({
    tone: 'pair wins',
    answer: expect.stringContaining('from a jsonl line'),
  });

  // Prompt Flow's samples.json is a list of lines: the first one is used, as a .jsonl file's first line is.
  writeFileSync(path.join(dir, 'samples.json'), JSON.stringify([{ question: 'first sample' }, { question: 'second' }]));
  const samples = await cliRun(['flow', 'test', 'chat', '--inputs', 'samples.json']);
  expect(samples.code).toBe(0);
  expect(JSON.parse(samples.stdout)).toMatchObject({ answer: expect.stringContaining('first sample') });
  writeFileSync(path.join(dir, 'empty.json'), '[]');
  const empty = await cliRun(['flow', 'test', 'chat', '--inputs', 'empty.json']);
  expect(empty.code).toBe(2);
  expect(empty.stderr).toContain('empty.json: error: found an empty list, expected a JSON object of inputs');

  const missing = await cliRun(['flow', 'test', 'chat', '--inputs', 'nope.json']);
  expect(missing.code).toBe(2);
  expect(missing.stderr).toContain(
    '--inputs: error: found "nope.json", expected name=value or a .json/.jsonl file of inputs',
  );
}, 60_000);

test('flow run: --init reaches every line', async () => {
  const r = await cliRun([
    'flow',
    'run',
    'chat',
    '--data',
    'data.jsonl',
    '--store',
    '.llmops',
    '--name',
    'init-run',
    '--init',
    'tone=batch',
  ]);
  expect(r.code).toBe(0);
  const records = readFileSync(path.join(dir, '.llmops/runs/init-run/outputs.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  expect(records.map((x) => x.outputs.tone)).toEqual(['batch', 'batch']);
}, 60_000);

test('flow serve: --init over init.json', async () => {
  const child: ChildProcess = spawn(
    process.execPath,
    [cli, 'flow', 'serve', 'chat', '--port', '0', '--init', 'tone=served'],
    { cwd: dir, env: env(), stdio: ['ignore', 'ignore', 'pipe'] },
  );
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let text = '';
      child.stderr!.on('data', (c) => {
        text += c;
        const m = /"url":"([^"]+)"/.exec(text);
        if (m) resolve(m[1]);
      });
      child.on('exit', () => reject(new Error(`serve exited: ${text}`)));
    });
    const res = await fetch(`${url}/score`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ question: 'over http' }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      tone: 'served',
      limit: 4096,
      answer: expect.stringContaining('over http'),
    });
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}, 60_000);

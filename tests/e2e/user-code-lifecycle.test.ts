/**
 * A use case whose standard flow is a flex class flow as the template writes it (init.json naming connection
 * `aoai`), through bulk-run and evaluate as a pipeline runs them; then the same use case with its Python broken
 * four ways (syntax error, a module listed in requirements.txt but not installed, a failing __init__, a missing
 * entry): exit 2 before any model call with the file and line, a run store that says Failed with the error (never
 * Running), evaluate and report refusing the unfinished run, and `bulk-run --resume` finishing it once the file is fixed.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { baseExperiment, makeUseCase } from '../helpers/use-case-dir.js';

const cli = path.resolve('dist/cli.js');

const FLOW_PY = `from pathlib import Path

from promptflow.core import AzureOpenAIModelConfiguration, Prompty

from helper import tidy

BASE = Path(__file__).absolute().parent


class Answer:
    def __init__(self, model_config: AzureOpenAIModelConfiguration, greeting: str = "hi"):
        if greeting == "boom":
            raise ValueError("greeting must not be boom")
        self.model_config = model_config
        self.greeting = greeting

    def __call__(self, question: str) -> dict:
        prompty = Prompty.load(source=BASE / "ask.prompty", model={"configuration": self.model_config})
        return {"answer": tidy(prompty(question=question)), "greeting": self.greeting}
`;

const HELPER_PY = 'def tidy(text):\n    return text.strip()\n';

const PROMPTY = `---
name: ask
model:
  api: chat
  configuration:
    type: azure_openai
    azure_deployment: gpt-35-turbo
inputs:
  question:
    type: string
---
user:
{{question}}
`;

const INIT_JSON = JSON.stringify(
  { model_config: { connection: 'aoai', azure_deployment: 'gpt-35-turbo' }, greeting: 'hello' },
  null,
  2,
);

const files: Record<string, string | null> = {
  'flows/std/flow.dag.yaml': null,
  'flows/std/flow.flex.yaml': 'entry: flow:Answer\nenvironment:\n  python_requirements_txt: requirements.txt\n',
  'flows/std/flow.py': FLOW_PY,
  'flows/std/helper.py': HELPER_PY,
  'flows/std/ask.prompty': PROMPTY,
  'flows/std/init.json': INIT_JSON,
  'flows/std/requirements.txt': 'promptflow\n',
  'data/train.jsonl': '{"question": "q1", "answer": "a1"}\n{"question": "q2", "answer": "a2"}\n',
  'data/eval.jsonl': '{"answer": "a1"}\n{"answer": "a2"}\n',
};

let server: ModelServerHandle;
beforeAll(async () => {
  server = await startModelServer({});
});
afterAll(() => server.close());

function cliRun(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    AOAI_API_BASE: server.url,
    AOAI_API_KEY: 'local-test-key',
  };
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const steps = (step: string, ...extra: string[]) => [
  step,
  '--config',
  'experiment.yaml',
  '--store',
  '.llmops',
  '--cache-mode',
  'off',
  ...extra,
];

function runsFile(dir: string) {
  return JSON.parse(readFileSync(path.join(dir, '.llmops/experiments/demo/runs.json'), 'utf8')) as {
    runs: Array<{ runId: string; status: string; error?: string; completed: number }>;
  };
}

function runJson(dir: string, runId: string) {
  return JSON.parse(readFileSync(path.join(dir, '.llmops/runs', runId, 'run.json'), 'utf8')) as {
    status: string;
    error?: string;
    counts: { completed: number };
  };
}

test('a class flow with init.json: bulk-run and evaluate run it end to end, the connection from experiment.yaml', async () => {
  const uc = makeUseCase(files);
  try {
    const before = server.stats().requests;
    const bulk = await cliRun(steps('bulk-run'), uc.dir);
    expect(bulk.stderr).not.toContain('internal error');
    expect(bulk.code).toBe(0);
    expect(server.stats().requests - before).toBe(2);
    const run = runsFile(uc.dir).runs[0];
    expect(run).toMatchObject({ status: 'Completed', completed: 2 });
    const records = readFileSync(path.join(uc.dir, '.llmops/runs', run.runId, 'outputs.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(records.map((r) => r.outputs.greeting)).toEqual(['hello', 'hello']);
    expect(records.every((r) => String(r.outputs.answer).includes(r.inputs.question))).toBe(true);
    const evaluate = await cliRun(steps('evaluate'), uc.dir);
    expect(evaluate.code).toBe(0);
  } finally {
    uc.cleanup();
  }
}, 60_000);

interface Breakage {
  name: string;
  files: Record<string, string>;
  /** file:line the message must start with, and text it must hold. */
  at: string;
  says: RegExp;
}

const breakages: Breakage[] = [
  {
    name: 'a syntax error in a module the entry imports',
    files: { 'flows/std/helper.py': 'def tidy(text):\n    return text.strip(\n' },
    at: 'flows/std/helper.py:2:22',
    says: /entry flow:Answer: SyntaxError: '\(' was never closed/,
  },
  {
    name: 'a module listed in requirements.txt but not installed',
    files: {
      'flows/std/helper.py': `import textblob_not_installed\n${HELPER_PY}`,
      'flows/std/requirements.txt': 'promptflow\ntextblob-not-installed==0.1\n',
    },
    at: 'flows/std/helper.py:1',
    says: /module "textblob_not_installed" is imported but not installed; flows\/std\/requirements\.txt:2 lists it/,
  },
  {
    name: 'a failing __init__',
    files: { 'flows/std/init.json': INIT_JSON.replace('"hello"', '"boom"') },
    at: 'flows/std/flow.py:13',
    says: /entry flow:Answer: __init__ failed: \(ValueError\) greeting must not be boom/,
  },
  {
    name: 'a missing entry',
    files: { 'flows/std/flow.flex.yaml': 'entry: flow:Answr\n' },
    at: 'flows/std/flow.flex.yaml:1:8',
    says: /'Answr' is not defined in module 'flow'/,
  },
];

test.each(breakages)(
  '$name: exit 2 before any model call, the run store says Failed, evaluate refuses, resume works once fixed',
  async (b) => {
    const uc = makeUseCase({ ...files, ...b.files });
    try {
      const before = server.stats().requests;
      const bulk = await cliRun(steps('bulk-run'), uc.dir);
      expect(bulk.stderr).not.toContain('internal error');
      expect(bulk.stderr).not.toMatch(/\n\s+at /);
      expect(bulk.code).toBe(2);
      const line = bulk.stderr.split('\n').find((l) => l.startsWith(`${b.at}: error: `));
      expect(line).toMatch(b.says);
      expect(server.stats().requests).toBe(before);

      const run = runsFile(uc.dir).runs[0];
      expect(run.status).toBe('Failed');
      expect(run.error).toMatch(b.says);
      const record = runJson(uc.dir, run.runId);
      expect(record.status).toBe('Failed');
      expect(record.error).toContain(b.at);

      const evaluate = await cliRun(steps('evaluate'), uc.dir);
      expect(evaluate.code).toBe(2);
      expect(evaluate.stderr).toContain(`run ${run.runId} (train, default) did not finish: Failed`);
      expect(evaluate.stderr).toContain('bulk-run --resume');
      const report = await cliRun(['report', '--config', 'experiment.yaml', '--store', '.llmops'], uc.dir);
      expect(report.code).toBe(2);
      expect(report.stderr).toContain(`run ${run.runId} (train, default) did not finish: Failed`);

      for (const file of Object.keys(b.files)) writeFileSync(path.join(uc.dir, file), files[file]!);
      const resumed = await cliRun(steps('bulk-run', '--resume'), uc.dir);
      expect(resumed.stderr).toContain('(resumed)');
      expect(resumed.code).toBe(0);
      expect(runsFile(uc.dir).runs[0]).toMatchObject({ runId: run.runId, status: 'Completed', completed: 2 });
      expect(runsFile(uc.dir).runs[0].error).toBeUndefined();
      expect(runJson(uc.dir, run.runId)).toMatchObject({ status: 'Completed', counts: { completed: 2 } });
      expect(runJson(uc.dir, run.runId).error).toBeUndefined();
      expect(server.stats().requests - before).toBe(2);
    } finally {
      uc.cleanup();
    }
  },
  60_000,
);

test('validate compiles every Python file the flows use and lists every problem, no model call', async () => {
  const uc = makeUseCase({
    ...files,
    'flows/std/helper.py': `import textblob_not_installed\n${HELPER_PY}`,
    'flows/std/flow.py': FLOW_PY.replace(
      'def __call__(self, question: str) -> dict:',
      'def __call__(self, question: str) -> dict',
    ),
    'experiment.yaml': baseExperiment,
  });
  try {
    const r = await cliRun(['validate', '--config', 'experiment.yaml'], uc.dir);
    expect(r.code).toBe(2);
    // The syntax error stops the walk through flow.py, so only its own problem shows for that file.
    expect(r.stderr).toMatch(/^flows\/std\/flow\.py:17:\d+: error: entry flow:Answer: SyntaxError/m);
    expect(r.stderr).not.toContain('internal error');
    writeFileSync(path.join(uc.dir, 'flows/std/flow.py'), FLOW_PY);
    const again = await cliRun(['validate', '--config', 'experiment.yaml'], uc.dir);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(
      /^flows\/std\/helper\.py:1: error: entry flow:Answer: module "textblob_not_installed" is imported but not installed/m,
    );
    writeFileSync(path.join(uc.dir, 'flows/std/helper.py'), HELPER_PY);
    expect((await cliRun(['validate', '--config', 'experiment.yaml'], uc.dir)).code).toBe(0);
  } finally {
    uc.cleanup();
  }
}, 60_000);

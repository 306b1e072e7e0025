/**
 * `execution.python_requirements`: `check` stops a run before any line when a module the flow imports is not
 * installed (listing every one, with its requirements.txt line); `install` installs the flow's requirements.txt
 * into a virtual environment keyed by the file's content under the store, reused by later runs. No package index
 * is reached: requirements.txt names a local wheel, and pip runs with PIP_NO_INDEX.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/shared/errors.js';
import { runBatch } from '../../src/shared/runs/index.js';

let root: string;
let flow: string;
const savedNoIndex = process.env.PIP_NO_INDEX;

/** A minimal, valid wheel of `llmops_local_pkg` (pure Python, RECORD with hashes) written with the stdlib. */
function buildWheel(dir: string): string {
  const script = `
import base64, hashlib, sys, zipfile
out = sys.argv[1]
files = {
    "llmops_local_pkg/__init__.py": "def shout(text):\\n    return text.upper() + '!'\\n",
    "llmops_local_pkg-1.0.dist-info/METADATA": "Metadata-Version: 2.1\\nName: llmops-local-pkg\\nVersion: 1.0\\n",
    "llmops_local_pkg-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
record = []
with zipfile.ZipFile(out, "w") as z:
    for name, text in files.items():
        data = text.encode()
        z.writestr(name, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append("llmops_local_pkg-1.0.dist-info/RECORD,,")
    z.writestr("llmops_local_pkg-1.0.dist-info/RECORD", "\\n".join(record) + "\\n")
`;
  const wheel = path.join(dir, 'llmops_local_pkg-1.0-py3-none-any.whl');
  execFileSync('python3', ['-c', script, wheel]);
  return wheel;
}

beforeAll(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'llmops-pyreq-'));
  flow = path.join(root, 'flow');
  mkdirSync(path.join(flow, 'wheels'), { recursive: true });
  buildWheel(path.join(flow, 'wheels'));
  writeFileSync(path.join(flow, 'flow.flex.yaml'), 'entry: flow:answer\n');
  writeFileSync(
    path.join(flow, 'flow.py'),
    'from llmops_local_pkg import shout\n\n\ndef answer(question: str) -> str:\n    return shout(question)\n',
  );
  writeFileSync(path.join(flow, 'requirements.txt'), '# local only\n./wheels/llmops_local_pkg-1.0-py3-none-any.whl\n');
  writeFileSync(path.join(root, 'data.jsonl'), '{"question": "hi"}\n{"question": "yo"}\n');
  process.env.PIP_NO_INDEX = '1';
});
afterAll(() => {
  if (savedNoIndex === undefined) delete process.env.PIP_NO_INDEX;
  else process.env.PIP_NO_INDEX = savedNoIndex;
  rmSync(root, { recursive: true, force: true });
});

test('check (the default): the missing module, its line, and the requirements.txt line that lists it; an announced run says Failed', async () => {
  const store = path.join(root, 'store-check');
  const err = await runBatch({
    flow,
    data: path.join(root, 'data.jsonl'),
    storeRoot: store,
    runId: 'checked',
    announced: true,
  }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConfigError);
  const [problem] = (err as ConfigError).problems;
  expect(problem).toMatchObject({ file: expect.stringMatching(/flow\/flow\.py$/), line: 1 });
  expect(problem.message).toMatch(
    /module "llmops_local_pkg" is imported but not installed; .*requirements\.txt:2 lists it/,
  );
  const run = JSON.parse(readFile(path.join(store, 'runs/checked/run.json')));
  expect(run.status).toBe('Failed');
  expect(run.error).toContain('llmops_local_pkg');
  // A run nobody announced (flow run) that fails on its input before any line writes nothing.
  const unannounced = await runBatch({
    flow,
    data: path.join(root, 'data.jsonl'),
    storeRoot: store,
    runId: 'quiet',
  }).catch((e: unknown) => e);
  expect(unannounced).toBeInstanceOf(ConfigError);
  expect(existsSync(path.join(store, 'runs/quiet'))).toBe(false);
});

test('install: a virtual environment under <store>/venvs/<hash> with the requirements, reused by the next run', async () => {
  const store = path.join(root, 'store-install');
  const logs: string[] = [];
  const first = await runBatch({
    flow,
    data: path.join(root, 'data.jsonl'),
    storeRoot: store,
    pythonRequirements: 'install',
    log: (m) => logs.push(m),
  });
  expect(first.status).toBe('Completed');
  expect(first.counts).toEqual({ total: 2, completed: 2, failed: 0 });
  const venvs = readdirSync(path.join(store, 'venvs'));
  expect(venvs).toHaveLength(1);
  expect(venvs[0]).toMatch(/^[0-9a-f]{16}$/);
  const marker = path.join(store, 'venvs', venvs[0], '.llmops-complete');
  expect(existsSync(marker)).toBe(true);
  expect(logs.some((l) => l.startsWith('creating a Python virtual environment'))).toBe(true);
  const made = statSync(marker).mtimeMs;

  logs.length = 0;
  const second = await runBatch({
    flow,
    data: path.join(root, 'data.jsonl'),
    storeRoot: store,
    pythonRequirements: 'install',
    log: (m) => logs.push(m),
  });
  expect(second.counts.completed).toBe(2);
  expect(logs).toEqual([]);
  expect(statSync(marker).mtimeMs).toBe(made);
}, 120_000);

test('install: two runs at once make the environment once (the second waits for the first)', async () => {
  const store = path.join(root, 'store-parallel');
  const logs: string[] = [];
  const both = await Promise.all(
    [1, 2].map((n) =>
      runBatch({
        flow,
        data: path.join(root, 'data.jsonl'),
        storeRoot: store,
        runId: `parallel-${n}`,
        pythonRequirements: 'install',
        log: (m) => logs.push(m),
      }),
    ),
  );
  expect(both.map((s) => s.counts.completed)).toEqual([2, 2]);
  expect(logs.filter((l) => l.startsWith('creating a Python virtual environment'))).toHaveLength(1);
  expect(readdirSync(path.join(store, 'venvs'))).toHaveLength(1);
}, 120_000);

test('install: a requirement pip cannot satisfy is exit 2 naming requirements.txt, and nothing half-made is kept', async () => {
  const broken = path.join(root, 'broken');
  mkdirSync(broken, { recursive: true });
  writeFileSync(path.join(broken, 'flow.flex.yaml'), 'entry: flow:answer\n');
  writeFileSync(path.join(broken, 'flow.py'), 'def answer(question: str) -> str:\n    return question\n');
  writeFileSync(path.join(broken, 'requirements.txt'), 'surely-not-a-package-llmops==9.9\n');
  const store = path.join(root, 'store-broken');
  const err = await runBatch({
    flow: broken,
    data: path.join(root, 'data.jsonl'),
    storeRoot: store,
    pythonRequirements: 'install',
  }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).problems[0].file).toMatch(/requirements\.txt$/);
  expect((err as ConfigError).message).toMatch(/pip install failed/);
  expect(readdirSync(path.join(store, 'venvs'))).toEqual([]);
}, 120_000);

test("install: Prompt Flow's own distributions (the template lists promptflow, promptflow-tools, promptflow-sdk[builtins]) are left out, the rest installed", async () => {
  const templated = path.join(root, 'templated');
  mkdirSync(path.join(templated, 'wheels'), { recursive: true });
  buildWheel(path.join(templated, 'wheels'));
  writeFileSync(path.join(templated, 'flow.flex.yaml'), 'entry: flow:answer\n');
  writeFileSync(
    path.join(templated, 'flow.py'),
    'from promptflow.tracing import trace\nfrom llmops_local_pkg import shout\n\n\n@trace\ndef answer(question: str) -> str:\n    return shout(question)\n',
  );
  // With PIP_NO_INDEX set, pip could install none of the first three: the run passes only when they are left out.
  writeFileSync(
    path.join(templated, 'requirements.txt'),
    'promptflow>=1.12.0\npromptflow-tools\npromptflow-sdk[builtins]\nPromptflow_Azure >= 1.12.0  # the workspace\n./wheels/llmops_local_pkg-1.0-py3-none-any.whl\n',
  );
  const store = path.join(root, 'store-templated');
  const logs: string[] = [];
  const summary = await runBatch({
    flow: templated,
    data: path.join(root, 'data.jsonl'),
    storeRoot: store,
    pythonRequirements: 'install',
    log: (m) => logs.push(m),
  });
  expect(summary.counts).toEqual({ total: 2, completed: 2, failed: 0 });
  expect(logs).toContainEqual(
    expect.stringMatching(
      /^not installing promptflow, promptflow-tools, promptflow-sdk, Promptflow_Azure from .*requirements\.txt: llmops provides Prompt Flow$/,
    ),
  );
}, 120_000);

test('install: a requirements.txt of Prompt Flow packages only needs no pip at all', async () => {
  const only = path.join(root, 'only-promptflow');
  mkdirSync(only, { recursive: true });
  writeFileSync(path.join(only, 'flow.flex.yaml'), 'entry: flow:answer\n');
  writeFileSync(path.join(only, 'flow.py'), 'def answer(question: str) -> str:\n    return question * 2\n');
  writeFileSync(path.join(only, 'requirements.txt'), '\npromptflow\npromptflow-tools\n');
  const store = path.join(root, 'store-only');
  const logs: string[] = [];
  const summary = await runBatch({
    flow: only,
    data: path.join(root, 'data.jsonl'),
    storeRoot: store,
    pythonRequirements: 'install',
    log: (m) => logs.push(m),
  });
  expect(summary.counts.completed).toBe(2);
  expect(logs.some((l) => l.includes('(pip)'))).toBe(false);
}, 120_000);

function readFile(file: string): string {
  return execFileSync('cat', [file], { encoding: 'utf8' });
}

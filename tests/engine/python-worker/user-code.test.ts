/**
 * Errors in a flow's own Python code are the user's: found before any line runs (exit 2, ConfigError) with the
 * user's file and line and the node or entry, or recorded as the line's error when they happen while running.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../../src/shared/errors.js';
import { loadFlow } from '../../../src/shared/flow/index.js';
import { checkFlowPython, createExecutor, type ExecutorOptions } from '../../../src/shared/engine/index.js';
import { readRequirements, requirementFor } from '../../../src/shared/engine/python-worker/index.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'llmops-user-code-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
/** A flow folder with these files; returns its path (relative to the cwd is not needed: messages show absolute or relative). */
function flowDir(files: Record<string, string>): string {
  const dir = path.join(root, `flow${++counter}`);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

async function loadError(dir: string, options: ExecutorOptions = {}): Promise<ConfigError> {
  let executor;
  try {
    executor = await createExecutor(loadFlow(dir), options);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  } finally {
    await executor?.close();
  }
  throw new Error('expected a ConfigError');
}

const ENTRY = 'entry: flow:Answer\n';
const FLOW_PY = `from helper import shout


class Answer:
    def __init__(self, greeting: str = "hi"):
        self.greeting = greeting

    def __call__(self, question: str) -> dict:
        return {"answer": shout(self.greeting + " " + question)}
`;

test('a syntax error in a module the entry imports: its file, line and column, naming the entry', async () => {
  const dir = flowDir({
    'flow.flex.yaml': ENTRY,
    'flow.py': FLOW_PY,
    'helper.py': 'def shout(x):\n    return x.upper(\n',
  });
  const err = await loadError(dir);
  expect(err.problems).toHaveLength(1);
  expect(err.problems[0]).toMatchObject({ file: expect.stringMatching(/helper\.py$/), line: 2, column: 19 });
  expect(err.problems[0].message).toMatch(/^entry flow:Answer: SyntaxError: '\(' was never closed/);
});

test('every missing module in one error, with the requirements.txt line that lists it; optional, __main__, stdlib, local and promptflow imports are not reported', async () => {
  const dir = flowDir({
    'flow.flex.yaml': ENTRY,
    'flow.py': `import json, os
import numpy_not_installed_x
from promptflow.core import tool
from pkg import util
try:
    import optional_not_installed
except ImportError:
    optional_not_installed = None
try:
    import tomllib
except ModuleNotFoundError:
    import fallback_not_installed as tomllib
${FLOW_PY}
if __name__ == "__main__":
    import only_in_script
`,
    'helper.py':
      'import yaml_not_installed_y.sub\n\ndef shout(x):\n    import lazy_not_installed_z\n    return x.upper()\n',
    'pkg/__init__.py': '',
    'pkg/util.py': 'from . import sibling\n',
    'pkg/sibling.py': 'import deep_not_installed_w\n',
    'requirements.txt': '# the flow needs\nnumpy-not-installed-x==1.0\n\nyaml_not_installed_y>=2\n',
  });
  const err = await loadError(dir);
  const byModule = Object.fromEntries(err.problems.map((p) => [/module "([^"]+)"/.exec(p.message)?.[1], p]));
  expect(Object.keys(byModule).sort()).toEqual([
    'deep_not_installed_w',
    'lazy_not_installed_z',
    'numpy_not_installed_x',
    'yaml_not_installed_y',
  ]);
  expect(byModule.numpy_not_installed_x).toMatchObject({ file: expect.stringMatching(/flow\d+\/flow\.py$/), line: 2 });
  expect(byModule.numpy_not_installed_x.message).toMatch(
    /^entry flow:Answer: module "numpy_not_installed_x" is imported but not installed; .*requirements\.txt:2 lists it \(numpy-not-installed-x==1\.0\)/,
  );
  expect(byModule.yaml_not_installed_y.message).toMatch(/requirements\.txt:4 lists it/);
  expect(byModule.deep_not_installed_w).toMatchObject({ file: expect.stringMatching(/pkg\/sibling\.py$/), line: 1 });
  expect(byModule.deep_not_installed_w.message).toMatch(/does not list it by name: add it there/);
});

test("validate-style check: syntax errors and missing modules of a DAG flow's python nodes, naming the nodes", async () => {
  const dir = flowDir({
    'flow.dag.yaml': `inputs:
  x:
    type: string
outputs:
  y:
    type: string
    reference: \${second.output}
nodes:
- name: first
  type: python
  source:
    type: code
    path: first.py
  inputs:
    x: \${inputs.x}
- name: second
  type: python
  source:
    type: code
    path: second.py
  inputs:
    x: \${first.output}
`,
    'first.py':
      'from promptflow import tool\nimport not_installed_module_q\n\n@tool\ndef first(x: str) -> str:\n    return x\n',
    'second.py': 'from promptflow import tool\n\n@tool\ndef second(x: str) -> str:\n    return x +\n',
  });
  const problems = await checkFlowPython(loadFlow(dir));
  expect(problems.map((p) => `${path.basename(p.file)}:${p.line} ${p.message.split(':')[0]}`).sort()).toEqual([
    'first.py:2 node first',
    'second.py:5 node second',
  ]);
  expect(await checkFlowPython(loadFlow(dir), { imports: false })).toHaveLength(1);
});

test('a failing __init__ points at the line that raised', async () => {
  const dir = flowDir({
    'flow.flex.yaml': ENTRY,
    'flow.py':
      'class Answer:\n    def __init__(self, greeting: str = "hi"):\n        raise ValueError(f"cannot greet with {greeting}")\n\n    def __call__(self, question: str) -> str:\n        return question\n',
  });
  const err = await loadError(dir, { init: { greeting: 'boom' } });
  expect(err.problems[0]).toMatchObject({ file: expect.stringMatching(/flow\.py$/), line: 3 });
  expect(err.problems[0].message).toBe('entry flow:Answer: __init__ failed: (ValueError) cannot greet with boom');
});

test('a required __init__ argument nobody gives: the flow file, and where init values come from', async () => {
  const dir = flowDir({
    'flow.flex.yaml': ENTRY,
    'flow.py':
      'class Answer:\n    def __init__(self, model_config, limit: int = 3):\n        pass\n\n    def __call__(self, question: str) -> str:\n        return question\n',
  });
  const err = await loadError(dir);
  expect(err.problems[0]).toMatchObject({ file: expect.stringMatching(/flow\.flex\.yaml$/), line: 1 });
  expect(err.problems[0].message).toMatch(
    /Answer.__init__\(\) needs 'model_config', which no init value gives; give it in init\.json beside flow\.flex\.yaml/,
  );
});

test('a missing entry class or module: the entry line of flow.flex.yaml', async () => {
  const dir = flowDir({
    'flow.flex.yaml': `# a comment\n${ENTRY.replace('Answer', 'Answr')}`,
    'flow.py': FLOW_PY,
    'helper.py': 'def shout(x):\n    return x\n',
  });
  const err = await loadError(dir);
  expect(err.problems[0]).toMatchObject({ file: expect.stringMatching(/flow\.flex\.yaml$/), line: 2 });
  expect(err.problems[0].message).toMatch(/'Answr' is not defined in module 'flow'.*EntryNotFound/);
  const noModule = flowDir({ 'flow.flex.yaml': 'entry: nowhere:Answer\n' });
  const err2 = await loadError(noModule);
  expect(err2.problems[0].message).toMatch(/Module 'nowhere' of the entry was not found: no nowhere\.py/);
});

test('with the import check off, a missing module at load is still exit 2 at the import line, naming requirements.txt', async () => {
  const dir = flowDir({
    'flow.flex.yaml': ENTRY,
    'flow.py': `import not_installed_p\n${FLOW_PY}`,
    'helper.py': 'def shout(x):\n    return x\n',
    'requirements.txt': 'not-installed-p\n',
  });
  const err = await loadError(dir, { pythonCheck: 'syntax' });
  expect(err.problems[0]).toMatchObject({ file: expect.stringMatching(/flow\.py$/), line: 1 });
  expect(err.problems[0].message).toMatch(
    /^entry flow:Answer: \(ModuleNotFoundError\) No module named 'not_installed_p'; .*requirements\.txt:1 lists it/,
  );
});

test('a python node whose file fails at import: exit 2 naming the node and the line', async () => {
  const dir = flowDir({
    'flow.dag.yaml':
      'inputs:\n  x:\n    type: string\noutputs:\n  y:\n    type: string\n    reference: ${n.output}\nnodes:\n- name: n\n  type: python\n  source:\n    type: code\n    path: n.py\n  inputs:\n    x: ${inputs.x}\n',
    'n.py':
      'from promptflow import tool\nraise RuntimeError("configuration missing")\n\n@tool\ndef n(x: str) -> str:\n    return x\n',
  });
  const err = await loadError(dir);
  expect(err.problems[0]).toMatchObject({ file: expect.stringMatching(/n\.py$/), line: 2 });
  expect(err.problems[0].message).toBe('node n: (RuntimeError) configuration missing');
});

test("while running, the same kind of error is the line's error and the executor goes on", async () => {
  const dir = flowDir({
    'flow.flex.yaml': 'entry: flow:answer\n',
    'flow.py':
      'def answer(question: str) -> str:\n    if question == "bad":\n        import not_installed_at_runtime_k\n    return question\n',
  });
  const executor = await createExecutor(loadFlow(dir), { pythonCheck: 'syntax' });
  try {
    const bad = await executor.runLine({ question: 'bad' });
    expect(bad.status).toBe('Failed');
    expect(bad.error?.message).toMatch(/ModuleNotFoundError.*not_installed_at_runtime_k/);
    const good = await executor.runLine({ question: 'good' }, { lineNumber: 1 });
    expect(good.outputs).toEqual({ output: 'good' });
  } finally {
    await executor.close();
  }
});

test('requirements.txt lines map to the modules they provide', () => {
  const dir = flowDir({
    'requirements.txt':
      'PyYAML==6.0 # config\n-r other.txt\n--index-url https://example.org\n./vendor/my_local_pkg\nwheels/azure_ai_evaluation-1.0.0-py3-none-any.whl\nscikit-learn>=1\nbeautifulsoup4 @ https://example.org/b.tar.gz\n',
  });
  const reqs = readRequirements(path.join(dir, 'requirements.txt'))!;
  expect(reqs.entries.map((e) => e.name)).toEqual([
    'pyyaml',
    'my_local_pkg',
    'azure_ai_evaluation',
    'scikit_learn',
    'beautifulsoup4',
  ]);
  expect(requirementFor('yaml', reqs)?.line).toBe(1);
  expect(requirementFor('my_local_pkg.sub', reqs)?.line).toBe(4);
  expect(requirementFor('azure.ai.evaluation', reqs)?.line).toBe(5);
  expect(requirementFor('sklearn.linear_model', reqs)?.line).toBe(6);
  expect(requirementFor('bs4', reqs)?.line).toBe(7);
  expect(requirementFor('numpy', reqs)).toBeUndefined();
});

test("user code that ends the interpreter while loading is the user's error too, not an internal one", async () => {
  const dir = flowDir({ 'flow.flex.yaml': ENTRY, 'flow.py': 'import os\nos._exit(3)\n' });
  const err = await loadError(dir);
  expect(err.problems[0]).toMatchObject({ file: expect.stringMatching(/flow\.flex\.yaml$/), line: 1 });
  expect(err.problems[0].message).toMatch(/^entry flow:Answer: Python worker \(pid \d+\) exited with code 3/);
});

test("additional_includes are checked as the flow runs them, and problems name the user's own file", async () => {
  const shared = flowDir({
    'shared_lib/__init__.py': '',
    'shared_lib/text.py': 'import not_installed_shared_v\n\ndef tidy(x):\n    return x\n',
  });
  const dir = flowDir({
    'flow.flex.yaml': `entry: flow:answer\nadditional_includes:\n  - ${path.join(shared, 'shared_lib')}\n`,
    'flow.py': 'from shared_lib.text import tidy\n\n\ndef answer(question: str) -> str:\n    return tidy(question)\n',
  });
  const problems = await checkFlowPython(loadFlow(dir));
  expect(problems).toHaveLength(1);
  expect(problems[0]).toMatchObject({ file: path.join(shared, 'shared_lib/text.py'), line: 1 });
  expect(problems[0].message).toMatch(
    /^entry flow:answer: module "not_installed_shared_v" is imported but not installed/,
  );
  const err = await loadError(dir);
  expect(err.problems[0]).toMatchObject({ file: path.join(shared, 'shared_lib/text.py'), line: 1 });
});

test('an init argument the class does not take: named, with the parameters it does take', async () => {
  const dir = flowDir({
    'flow.flex.yaml': ENTRY,
    'flow.py': FLOW_PY,
    'helper.py': 'def shout(x):\n    return x\n',
    'init.json': '{"greeting": "hey", "tone": "dry"}',
  });
  const err = await loadError(dir);
  expect(err.problems[0]).toMatchObject({ file: expect.stringMatching(/flow\.flex\.yaml$/), line: 1 });
  expect(err.problems[0].message).toBe(
    "entry flow:Answer: Answer.__init__() takes no 'tone'; its parameters are: greeting.",
  );
});

test('validate checks the code of every variant, not only the default one', async () => {
  const dir = flowDir({
    'flow.dag.yaml': `inputs:
  x:
    type: string
outputs:
  y:
    type: string
    reference: \${pick.output}
nodes:
- name: pick
  use_variants: true
node_variants:
  pick:
    default_variant_id: variant_0
    variants:
      variant_0:
        node:
          type: python
          source:
            type: code
            path: good.py
          inputs:
            x: \${inputs.x}
      variant_1:
        node:
          type: python
          source:
            type: code
            path: bad.py
          inputs:
            x: \${inputs.x}
`,
    'good.py': 'from promptflow import tool\n\n@tool\ndef pick(x: str) -> str:\n    return x\n',
    'bad.py': 'from promptflow import tool\n\n@tool\ndef pick(x: str) -> str\n    return x\n',
  });
  const problems = await checkFlowPython(loadFlow(dir));
  expect(problems).toHaveLength(1);
  expect(problems[0]).toMatchObject({ file: expect.stringMatching(/bad\.py$/), line: 4 });
  expect(problems[0].message).toMatch(/^node pick \(variant_1\): SyntaxError/);
});

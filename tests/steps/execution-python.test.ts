/**
 * `execution.python` of experiment.yaml is the interpreter every step runs the use case's Python with: validate's
 * code check, bulk-run's standard flow and evaluate's evaluation flows. The interpreter here is a wrapper script
 * around python3 that marks its environment, so the flows can say which one ran them.
 */
import { chmodSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../src/shared/errors.js';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { bulkRunStep } from '../../src/shared/steps/bulk-run.js';
import { evaluateStep } from '../../src/shared/steps/evaluate.js';
import { validateStep } from '../../src/shared/steps/validate.js';
import { baseEnv, experimentWith, makeUseCase } from '../helpers/use-case-dir.js';

const MARK_PY =
  'import os\nfrom promptflow.core import tool\n\n\n@tool\ndef mark(text: str) -> str:\n    return os.environ.get("LLMOPS_TEST_INTERPRETER", "plain python3") + ": " + text\n';
const dag = (input: string) =>
  `inputs:\n  ${input}:\n    type: string\noutputs:\n  answer:\n    type: string\n    reference: \${mark.output}\nnodes:\n- name: mark\n  type: python\n  source: {type: code, path: mark.py}\n  inputs:\n    text: \${inputs.${input}}\n`;

const saved = { ...process.env };
beforeAll(() => Object.assign(process.env, baseEnv));
afterAll(() => {
  for (const k of Object.keys(baseEnv)) if (saved[k] === undefined) delete process.env[k];
});

function useCase(extra: Record<string, string | null> = {}) {
  const uc = makeUseCase({
    'experiment.yaml': experimentWith('datasets:\n', 'execution:\n  python: ./wrapped-python\ndatasets:\n'),
    'wrapped-python': '#!/bin/sh\nLLMOPS_TEST_INTERPRETER=wrapped exec python3 "$@"\n',
    'flows/std/flow.dag.yaml': dag('question'),
    'flows/std/mark.py': MARK_PY,
    'flows/eval/flow.dag.yaml': dag('prediction').replace(
      '  prediction:\n    type: string\n',
      '  prediction:\n    type: string\n  answer:\n    type: string\n',
    ),
    'flows/eval/mark.py': MARK_PY,
    ...extra,
  });
  chmodSync(path.join(uc.dir, 'wrapped-python'), 0o755);
  return uc;
}

function outputsOf(store: string, match: (runId: string) => boolean): unknown[] {
  const runId = readdirSync(path.join(store, 'runs')).find(match)!;
  return readFileSync(path.join(store, 'runs', runId, 'outputs.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).outputs);
}

test('bulk-run and evaluate run the flows with execution.python', async () => {
  const uc = useCase();
  try {
    // A relative execution.python is the use case's, like its flows: resolved from experiment.yaml's folder.
    const common = {
      config: path.join(uc.dir, 'experiment.yaml'),
      store: path.join(uc.dir, '.llmops'),
      cacheMode: 'off' as const,
    };
    await validateStep.run({ config: common.config }, new MemoryHost());
    await bulkRunStep.run(common, new MemoryHost());
    expect(outputsOf(common.store, (r) => !r.includes('.eval.'))).toEqual([{ answer: 'wrapped: q1' }]);
    await evaluateStep.run(common, new MemoryHost());
    expect(outputsOf(common.store, (r) => r.includes('.eval.'))).toEqual([{ answer: 'wrapped: wrapped: q1' }]);
  } finally {
    uc.cleanup();
  }
}, 60_000);

test('validate checks imports with execution.python: a module only that interpreter has is not reported missing', async () => {
  // The wrapper puts a folder holding `only_here` on the path; plain python3 has no such module.
  const uc = useCase({
    'wrapped-python': '#!/bin/sh\nPYTHONPATH="$(dirname "$0")/extra${PYTHONPATH:+:$PYTHONPATH}" exec python3 "$@"\n',
    'extra/only_here.py': 'VALUE = 1\n',
    'flows/std/mark.py': `import only_here\n${MARK_PY}`,
  });
  try {
    await expect(
      validateStep.run({ config: path.join(uc.dir, 'experiment.yaml') }, new MemoryHost()),
    ).resolves.toBeDefined();
    const plain = path.join(uc.dir, 'experiment.yaml');
    writeFileSync(plain, readFileSync(plain, 'utf8').replace('execution:\n  python: ./wrapped-python\n', ''));
    const err = await validateStep.run({ config: plain }, new MemoryHost()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(/module "only_here" is imported but not installed/);
  } finally {
    uc.cleanup();
  }
}, 60_000);

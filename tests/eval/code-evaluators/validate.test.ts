/**
 * `validate` checks a code-only evaluator folder's Python as evaluate will run it: its eval_*.py files and what they
 * import from the use case (`qa_app.flows.answer.flow`, `flow` from the standard flow's folder) resolve; a syntax
 * error or a module that is not installed is a problem at its file and line that blocks evaluate. Nothing is run.
 */
import path from 'node:path';
import { ConfigError } from '../../../src/shared/errors.js';
import { MemoryHost } from '../../../src/shared/host/memory.js';
import { validateStep } from '../../../src/shared/steps/validate.js';
import { makeUseCase } from '../../helpers/use-case-dir.js';
import { evalAzure, evalPromptflow, files } from './qa-app.js';

const saved = { base: process.env.AOAI_API_BASE, key: process.env.AOAI_API_KEY };
beforeAll(() => {
  process.env.AOAI_API_BASE = 'http://127.0.0.1:9';
  process.env.AOAI_API_KEY = 'local-test-key';
});
afterAll(() => {
  for (const [k, v] of [
    ['AOAI_API_BASE', saved.base],
    ['AOAI_API_KEY', saved.key],
  ] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

const validate = (dir: string) =>
  validateStep.run({ config: path.join(dir, 'qa_app/experiment.yaml') }, new MemoryHost());

test('the evaluator folder as written validates: its imports of the use case resolve as evaluate resolves them', async () => {
  const uc = makeUseCase(files);
  try {
    await expect(validate(uc.dir)).resolves.toBeDefined();
  } finally {
    uc.cleanup();
  }
}, 60_000);

test('a module that is not installed: at its line, blocking evaluate, named after the evaluator', async () => {
  const uc = makeUseCase({
    ...files,
    'qa_app/flows/eval_code/eval_relevance.py': `import llmops_surely_missing_eval_mod\n${evalAzure}`,
  });
  try {
    const err = await validate(uc.dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.map((p) => ({ file: p.file, line: p.line, message: p.message }));
    expect(problems).toEqual([
      {
        file: expect.stringMatching(/qa_app\/flows\/eval_code\/eval_relevance\.py$/),
        line: 1,
        message: expect.stringMatching(
          /^evaluator "quality": module "llmops_surely_missing_eval_mod" is imported but not installed; .*\[blocks: evaluate\]$/,
        ),
      },
    ]);
  } finally {
    uc.cleanup();
  }
}, 60_000);

test('a syntax error: once, at its line, blocking evaluate', async () => {
  const uc = makeUseCase({
    ...files,
    'qa_app/flows/eval_code/eval_quality.py': evalPromptflow.replace(
      'def answer_words(answer):',
      'def answer_words(answer)',
    ),
  });
  try {
    const err = await validate(uc.dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ file: expect.stringMatching(/eval_quality\.py$/), line: 9 });
    expect(problems[0].message).toMatch(/syntax error.*\[blocks: evaluate\]$/i);
  } finally {
    uc.cleanup();
  }
}, 60_000);

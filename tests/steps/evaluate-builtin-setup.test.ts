/** evaluate: a built-in scorer's missing mappings stop the step before any evaluation runs, at their line. */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, formatProblem } from '../../src/shared/errors.js';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { bulkRunStep } from '../../src/shared/steps/bulk-run.js';
import { evaluateStep } from '../../src/shared/steps/evaluate.js';
import { validateStep } from '../../src/shared/steps/validate.js';
import { baseEnv, baseExperiment, makeUseCase } from '../helpers/use-case-dir.js';

test('exact_match mapped with ground_truth instead of reference: exit 2 at the mappings, naming the unread one; nothing evaluated', async () => {
  // Beside a flow evaluator, which would otherwise run while the built-in fails.
  const experiment = baseExperiment.replace(
    'evaluators:\n',
    'evaluators:\n  - name: match\n    builtin: exact_match\n    datasets:\n      - name: train\n        mappings:\n          prediction: ${run.outputs.answer}\n          ground_truth: ${data.answer}\n',
  );
  const uc = makeUseCase({ 'experiment.yaml': experiment });
  Object.assign(process.env, baseEnv);
  const common = { config: path.join(uc.dir, 'experiment.yaml'), store: path.join(uc.dir, '.llmops') };
  try {
    await bulkRunStep.run({ ...common, cacheMode: 'off' }, new MemoryHost());
    const before = readdirSync(path.join(common.store, 'runs'));
    const error = await evaluateStep.run({ ...common, cacheMode: 'off' }, new MemoryHost()).catch((e) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map(formatProblem)).toEqual([
      `${path.relative(process.cwd(), path.join(uc.dir, 'experiment.yaml'))}:19:11: evaluators[0].datasets[0]: builtin exact_match needs mappings for reference (e.g. prediction: "\${run.outputs.answer}", reference: "\${data.answer}") in dataset train; found ground_truth, which exact_match does not read`,
    ]);
    expect(readdirSync(path.join(common.store, 'runs'))).toEqual(before);
    // validate finds it too, and says which step it blocks.
    const invalid = await validateStep.run({ config: common.config }, new MemoryHost()).catch((e) => e);
    expect((invalid as ConfigError).problems.map(formatProblem)).toEqual([
      expect.stringMatching(
        /experiment\.yaml:19:11: evaluators\[0\]\.datasets\[0\]: builtin exact_match needs mappings for reference .* \[blocks: evaluate\]$/,
      ),
    ]);
    expect(existsSync(path.join(common.store, 'runs', `${before[0]}.eval.accuracy`))).toBe(false);
  } finally {
    uc.cleanup();
  }
});

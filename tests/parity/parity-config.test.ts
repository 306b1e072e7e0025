/**
 * Which evaluators parity compares when parity.evaluators names none: every evaluator of the experiment that
 * scores lines of the parity dataset, built-ins of every kind and evaluation flows; a code-only evaluator
 * (eval_*.py, which runs its own target over its data) and one with no datasets entry for the parity dataset
 * are left out, each named with why, never silently.
 */
import path from 'node:path';
import { loadUseCase } from '../../src/shared/config/use-case.js';
import { ConfigError, formatProblem } from '../../src/shared/errors.js';
import { loadParityConfig, marginFor } from '../../src/shared/parity/config.js';
import { baseEnv, baseExperiment, experimentWith, makeUseCase } from '../helpers/use-case-dir.js';

test('unnamed evaluators: built-ins of every kind and flows compared, code-only and unrelated ones named as left out', () => {
  const evaluators = `evaluators:
  - name: accuracy
    flow: flows/eval
    datasets:
      - name: train_eval
        reference: train
        source: data/eval.jsonl
        mappings:
          answer: \${data.answer}
          prediction: \${run.outputs.answer}
  - name: judged
    builtin: relevance
    options: { connection: aoai, deployment: gpt-4o }
    datasets:
      - name: train
        mappings:
          question: \${data.question}
          answer: \${run.outputs.answer}
  - name: private
    builtin: pii
    datasets:
      - name: train
        mappings:
          prediction: \${run.outputs.answer}
  - name: whole_run
    flow: flows/whole_run
    datasets:
      - name: train
        mappings:
          prediction: \${run.outputs.answer}
  - name: other_data
    builtin: exact_match
    datasets:
      - name: other
        mappings:
          prediction: \${run.outputs.answer}
          reference: \${data.answer}
`;
  const base = experimentWith(
    '    mappings:\n      question: ${data.question}\n',
    '    mappings:\n      question: ${data.question}\n  - name: other\n    source: data/train.jsonl\n    mappings:\n      question: ${data.question}\n',
  );
  const uc = makeUseCase({
    'experiment.yaml': `${base.slice(0, base.indexOf('evaluators:'))}${evaluators}parity:\n  candidate: flows/std\n  dataset: train\n  margin: 0.1\n`,
    'flows/whole_run/eval_accuracy.py':
      'def eval_accuracy(run_name, data_path, column_mapping, output_path):\n    return None\n',
  });
  try {
    const useCase = loadUseCase({
      configPath: path.join(uc.dir, 'experiment.yaml'),
      needs: ['experiment', 'evaluators', 'runtime'],
      processEnv: baseEnv,
    });
    const cfg = loadParityConfig(useCase, { processEnv: baseEnv });
    expect(cfg.evaluators.map((e) => [e.name, e.builtin ?? 'flow', path.basename(e.dataset.localPath!)])).toEqual([
      ['accuracy', 'flow', 'eval.jsonl'],
      ['judged', 'relevance', 'train.jsonl'],
      ['private', 'pii', 'train.jsonl'],
    ]);
    expect(cfg.skipped).toEqual([
      expect.stringMatching(/^"whole_run" is a code-only evaluator \(eval_\*\.py\), which scores a whole run/),
      '"other_data" scores no lines of train (no datasets entry for it)',
    ]);
  } finally {
    uc.cleanup();
  }
});

const judgedEvaluators = `evaluators:
  - name: accuracy
    flow: flows/eval
    datasets:
      - name: train_eval
        reference: train
        source: data/eval.jsonl
        mappings:
          answer: \${data.answer}
          prediction: \${run.outputs.answer}
  - name: judged
    builtin: relevance
    options: { connection: aoai, deployment: gpt-4o }
    datasets:
      - name: train
        mappings:
          question: \${data.question}
          answer: \${run.outputs.answer}
  - name: whole_run
    flow: flows/whole_run
    datasets:
      - name: train
        mappings:
          prediction: \${run.outputs.answer}
`;

function parityCase(parity: string, o: { margin?: number } = {}) {
  const uc = makeUseCase({
    'experiment.yaml': `${baseExperiment.slice(0, baseExperiment.indexOf('evaluators:'))}${judgedEvaluators}parity:\n  candidate: flows/std\n${parity}`,
    'flows/whole_run/eval_accuracy.py':
      'def eval_accuracy(run_name, data_path, column_mapping, output_path):\n    return None\n',
  });
  try {
    const useCase = loadUseCase({
      configPath: path.join(uc.dir, 'experiment.yaml'),
      needs: ['experiment', 'evaluators', 'runtime'],
      processEnv: baseEnv,
    });
    return loadParityConfig(useCase, { processEnv: baseEnv, margin: o.margin, cwd: uc.dir });
  } finally {
    uc.cleanup();
  }
}

test('parity.margins gives an evaluator its own δ on its scale; the others, and the disagreement rate, use parity.margin', () => {
  const cfg = parityCase('  margin: 0.05\n  margins:\n    judged: 0.5\n    accuracy.ok: 0.2\n');
  expect(cfg.margin).toBe(0.05);
  expect(cfg.margins).toEqual({ judged: 0.5, 'accuracy.ok': 0.2 });
  expect(marginFor(cfg, 'judged', 'judged')).toEqual({ margin: 0.5, from: 'parity.margins.judged' });
  // A flow's output by <evaluator>.<output>; the flow's other outputs keep the default.
  expect(marginFor(cfg, 'accuracy', 'accuracy')).toEqual({ margin: 0.05, from: 'parity.margin' });
  expect(marginFor(cfg, 'accuracy.ok', 'accuracy')).toEqual({ margin: 0.2, from: 'parity.margins.accuracy.ok' });
  // --margin replaces the default only: an evaluator's own δ stays.
  const overridden = parityCase('  margin: 0.05\n  margins:\n    judged: 0.5\n', { margin: 0.01 });
  expect(overridden.margin).toBe(0.01);
  expect(marginFor(overridden, 'judged', 'judged').margin).toBe(0.5);
  expect(marginFor(overridden, 'accuracy', 'accuracy').margin).toBe(0.01);
});

test('parity.margins typos and bad values are refused at file:line:column, each saying what was expected', () => {
  const problems = (parity: string) => {
    try {
      parityCase(parity);
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as ConfigError).problems.map(formatProblem);
    }
    throw new Error('expected a ConfigError');
  };
  expect(problems('  margin: 0.05\n  margins:\n    judgd: 0.5\n    accuracy.nope: 1\n    whole_run: 1\n')).toEqual([
    expect.stringMatching(
      /experiment\.yaml:\d+:5: parity\.margins\.judgd: "judgd" is not an evaluator of this experiment, expected one of: accuracy, accuracy\.ok, judged$/,
    ),
    expect.stringMatching(
      /experiment\.yaml:\d+:5: parity\.margins\.accuracy\.nope: "accuracy" has no output "nope", expected one of: /,
    ),
    expect.stringMatching(/experiment\.yaml:\d+:5: parity\.margins\.whole_run: "whole_run" is not compared by parity/),
  ]);
  expect(problems('  margin: 0.05\n  margins:\n    judged: "half"\n')).toEqual([
    expect.stringMatching(/experiment\.yaml:\d+:13: parity\.margins\.judged: found the text "half", expected a number/),
  ]);
  expect(problems('  margin: 0.05\n  margins:\n    judged: 0\n')).toEqual([
    expect.stringMatching(
      /experiment\.yaml:\d+:13: parity\.margins\.judged: found the number 0, expected a number > 0/,
    ),
  ]);
  expect(problems('  margin: 0.05\n  margins: [0.5]\n')).toEqual([
    expect.stringMatching(/experiment\.yaml:\d+:\d+: parity\.margins: found .*expected/),
  ]);
});

/**
 * Which evaluators parity compares when parity.evaluators names none: every evaluator of the experiment that
 * scores lines of the parity dataset, built-ins of every kind and evaluation flows; a code-only evaluator
 * (eval_*.py, which runs its own target over its data) and one with no datasets entry for the parity dataset
 * are left out, each named with why, never silently.
 */
import path from 'node:path';
import { loadUseCase } from '../../src/shared/config/use-case.js';
import { loadParityConfig } from '../../src/shared/parity/config.js';
import { baseEnv, experimentWith, makeUseCase } from '../helpers/use-case-dir.js';

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

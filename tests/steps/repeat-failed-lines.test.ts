/**
 * With repeat: K a failed line is annotated at its data line (the source line), and says which repetition
 * failed: its record's line number counts the repetitions and would point past the data file's end.
 */
import { runCli } from '../support/azure/cli.js';
import { baseEnv, experimentWith, makeUseCase } from '../helpers/use-case-dir.js';

test('a failed repetition is reported at the dataset line it answers', async () => {
  const uc = makeUseCase({
    'experiment.yaml': `${experimentWith('evaluators:\n', 'repeat: 2\nevaluators:\n')}`,
    'flows/std/flow.dag.yaml': null,
    'flows/std/flow.flex.yaml': 'entry: answer:run\ninputs:\n  question:\n    type: string\n',
    'flows/std/answer.py':
      'def run(question: str) -> str:\n    if question == "q2":\n        raise ValueError("no answer to " + question)\n    return question\n',
    'data/train.jsonl': '{"question": "q1"}\n{"question": "q2"}\n{"question": "q3"}\n',
  });
  try {
    const r = await runCli(['bulk-run', '--config', 'experiment.yaml'], { cwd: uc.dir, env: baseEnv });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      "data/train.jsonl:2: error: line 1 (repetition 1) of train failed: Execution failure in 'run': (ValueError) no answer to q2",
    );
    expect(r.stderr).toContain('data/train.jsonl:2: error: line 1 (repetition 2) of train failed');
    expect(r.stderr).not.toMatch(/data\/train\.jsonl:[34]:/);
  } finally {
    uc.cleanup();
  }
});

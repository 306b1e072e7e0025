/**
 * `cluster_by` of a dataset in experiment.yaml, as users get it wrong: a value that is not a column name is a
 * schema error at its file:line:column (validate), and a column missing from the data is an error at the first
 * row without it (register-data and bulk-run check it with the mapped columns), exit 2 before anything runs.
 */
import { runCli } from '../support/azure/cli.js';
import { baseEnv, experimentWith, makeUseCase } from '../helpers/use-case-dir.js';

const withClusterBy = (value: string) =>
  experimentWith('    source: data/train.jsonl\n', `    source: data/train.jsonl\n    cluster_by: ${value}\n`);

test('cluster_by that is not text is a schema error at its line', async () => {
  const uc = makeUseCase({ 'experiment.yaml': withClusterBy('[conversation_id]') });
  try {
    const r = await runCli(['validate', '--config', 'experiment.yaml'], { cwd: uc.dir, env: baseEnv });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('experiment.yaml:11:17: error: datasets[0].cluster_by: found a list, expected text');
  } finally {
    uc.cleanup();
  }
});

test('a cluster_by column missing from a row is exit 2 at that row, before anything is registered', async () => {
  const uc = makeUseCase({
    'experiment.yaml': withClusterBy('conversation_id'),
    'data/train.jsonl': '{"question": "q1", "conversation_id": "c1"}\n{"question": "q2"}\n',
  });
  try {
    const r = await runCli(['register-data', '--config', 'experiment.yaml'], { cwd: uc.dir, env: baseEnv });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(
      'data/train.jsonl:2: error: column "conversation_id" (mapped to input "cluster_by") is missing from this row (1 of 2 rows)',
    );
  } finally {
    uc.cleanup();
  }
});

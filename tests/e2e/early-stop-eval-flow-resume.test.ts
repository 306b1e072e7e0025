/**
 * An early-stop bulk-run whose gate is on an evaluation flow's accuracy, killed part-way (SIGKILL of the CLI) and
 * resumed: the lines recorded before the kill are scored again by the evaluation flow's per-line part (no model
 * call), the run stops once the gate is decided, and evaluate's verdict is the run's.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import type { RunRecord } from '../../src/shared/runs/store.js';
import { evalFlowData, evalFlowExperiment, gradingEvaluationFlow } from '../helpers/eval-flow-fixture.js';
import { firstRunDir, recordedLineNumbers, runAndKill, runCli } from '../helpers/killed-run.js';
import { llmNodeFlow, makeUseCase } from '../helpers/use-case-dir.js';

const lines = 200;

let server: ModelServerHandle;
beforeAll(async () => {
  server = await startModelServer({ latencyMs: 60, rules: [{ match: '^(\\w+)$', answer: '{{1}}' }] });
});
afterAll(() => server.close());

test('killed, then resumed: the evaluation flow rescores the recorded lines and the run stops when decided', async () => {
  const uc = makeUseCase({
    ...llmNodeFlow(),
    ...gradingEvaluationFlow('True if correct else False'),
    ...evalFlowData(lines, (i) => i % 20 === 3),
    'experiment.yaml': evalFlowExperiment(
      '  - {metric: accuracy, evaluator: web_eval, min: 0.8, early_stop: true, line_score: grade}\n',
    ),
  });
  const env = { ...process.env, AOAI_API_BASE: server.url, AOAI_API_KEY: 'local-test-key' };
  const config = ['--config', path.join(uc.dir, 'experiment.yaml'), '--store', path.join(uc.dir, '.llmops')];
  const args = ['dist/cli.js', 'bulk-run', ...config, '--concurrency', '2', '--cache-mode', 'off'];
  try {
    const start = server.stats().requests;
    await runAndKill(args, env, () => server.stats().requests - start >= 8);

    const runDir = firstRunDir(uc.dir);
    const recorded = () => recordedLineNumbers(path.join(runDir, 'outputs.jsonl'));
    const before = recorded();
    expect(before.length).toBeLessThan(20);

    const beforeResume = server.stats().requests;
    const resumed = await runCli([...args, '--resume'], env);
    expect(resumed.stderr).toContain('(resumed)');
    expect(resumed.status).toBe(0);
    const after = recorded();
    const run = JSON.parse(readFileSync(path.join(runDir, 'run.json'), 'utf8')) as RunRecord;
    expect(run).toMatchObject({ status: 'Completed', resumed: 1 });
    expect(run.early_stop).toMatchObject({ stopped: true, total: lines, lines: after.length });
    expect(run.early_stop!.gates[0]).toMatchObject({ decision: 'pass', evaluator: 'web_eval' });
    expect(new Set(after).size).toBe(after.length);
    expect(after.length).toBeLessThan(lines / 2);
    // Rescoring the recorded lines asked the model nothing: only the new lines did.
    expect(server.stats().requests - beforeResume).toBe(after.length - before.length);

    const evaluated = await runCli(['dist/cli.js', 'evaluate', ...config, '--cache-mode', 'off'], env);
    expect(evaluated.status).toBe(0);
    const lower = run.early_stop!.gates[0].lower.toFixed(2);
    expect(evaluated.stderr).toContain(
      `decided after ${after.length} of ${lines} lines: web_eval.accuracy ≥ 0.8 lower bound ${lower} ≥ 0.8 (anytime-valid, α = 0.05, each line scored by grade)`,
    );
  } finally {
    uc.cleanup();
  }
}, 90_000);

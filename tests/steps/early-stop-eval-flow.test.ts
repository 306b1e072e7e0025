/**
 * `early_stop: true` on a gate over an evaluation flow's metric (the template's shape: a Python node grades each
 * line, an aggregation node logs the mean with log_metric; the evaluation dataset is its own file, joined by line
 * number). bulk-run runs the flow's per-line part on every finished line and stops once the gate is decided;
 * evaluate and report judge the stopped run by the same confidence sequence. The local model server echoes the
 * question, so a line is graded correct when its expected answer is its question.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { bulkRunStep } from '../../src/shared/steps/bulk-run.js';
import { ConfigError, GateFailed } from '../../src/shared/errors.js';
import type { RunRecord } from '../../src/shared/runs/store.js';
import { llmNodeFlow, makeUseCase } from '../helpers/use-case-dir.js';
import { runLifecycle } from '../helpers/early-stop-lifecycle.js';
import {
  evalFlowData as data,
  evalFlowExperiment as experiment,
  gradingEvaluationFlow as evaluationFlow,
} from '../helpers/eval-flow-fixture.js';

let server: ModelServerHandle;
beforeAll(async () => {
  server = await startModelServer({ rules: [{ match: '^(\\w+)$', answer: '{{1}}' }] });
  process.env.AOAI_API_BASE = server.url;
  process.env.AOAI_API_KEY = 'local-test-key';
});
afterAll(() => server.close());

async function lifecycle(files: Record<string, string>, gate: string) {
  const uc = makeUseCase({ ...llmNodeFlow(), ...files, 'experiment.yaml': experiment(gate) });
  try {
    return await runLifecycle(uc.dir, server);
  } finally {
    uc.cleanup();
  }
}

test('a clear pass on the evaluation flow accuracy stops early; evaluate and report agree and say why', async () => {
  const r = await lifecycle(
    { ...evaluationFlow('1 if correct else 0'), ...data(300, (i) => i % 25 === 7) },
    '  - {metric: accuracy, evaluator: web_eval, min: 0.8, early_stop: true, line_score: grade}\n',
  );
  const e = r.record.early_stop!;
  expect(e).toMatchObject({ stopped: true, total: 300, gates: [{ decision: 'pass', evaluator: 'web_eval' }] });
  expect(e.lines).toBeGreaterThanOrEqual(20);
  expect(e.lines).toBeLessThan(150);
  expect(e.gates[0].lower).toBeGreaterThanOrEqual(0.8);
  // Only the lines that ran asked the model.
  expect(r.requests).toBe(e.lines);
  expect(r.record.counts).toEqual({ total: 300, completed: e.lines, failed: 0 });
  // The evaluation flow scored the lines that ran; its aggregation logged accuracy over them.
  expect(r.results.evaluations[0]).toMatchObject({ evaluator: 'web_eval', lines: e.lines });
  expect(r.results.evaluations[0].metrics.accuracy).toBeGreaterThan(0.9);
  expect(r.gateError).toBeUndefined();
  const [gate] = r.results.gates;
  expect(gate.status).toBe('passed');
  expect(gate.earlyStop).toMatchObject({ stopped: true, lines: e.lines, total: 300, decision: 'pass' });
  // The report reads the same confidence sequence bulk-run stopped on.
  expect(gate.earlyStop!.lower).toBeCloseTo(e.gates[0].lower, 12);
  const lower = gate.earlyStop!.lower.toFixed(2);
  expect(r.markdown).toContain(
    `decided after ${e.lines} of 300 lines: web_eval.accuracy ≥ 0.8 lower bound ${lower} ≥ 0.8 (anytime-valid, α = 0.05, each line scored by grade)`,
  );
  expect(r.host.lines.filter((l) => l.level === 'warning')).toEqual([]);
  // evaluate's progress counts the lines that ran, not every data row.
  const evaluateLog = r.host.lines.slice(r.host.lines.findIndex((l) => l.message.startsWith('evaluate ')));
  expect(evaluateLog.filter((l) => /^\s+lines \d+\/300\b/.test(l.message))).toEqual([]);
  expect(r.host.lines.map((l) => l.message)).toContain(
    `evaluate: gate web_eval.accuracy ≥ 0.8 [default]: decided after ${e.lines} of 300 lines: web_eval.accuracy ≥ 0.8 lower bound ${lower} ≥ 0.8 (anytime-valid, α = 0.05, each line scored by grade)`,
  );
}, 120_000);

test('a clear failure read from a boolean inside a dict output (line_score: output.key) stops early, exit 1', async () => {
  const r = await lifecycle(
    { ...evaluationFlow('{"correct": correct, "note": prediction}'), ...data(300, (i) => i % 5 < 3) },
    '  - {metric: accuracy, evaluator: web_eval, min: 0.8, early_stop: true, line_score: grade.correct}\n',
  );
  const e = r.record.early_stop!;
  expect(e).toMatchObject({ stopped: true, gates: [{ decision: 'fail' }] });
  expect(e.lines).toBeLessThan(100);
  expect(r.requests).toBe(e.lines);
  expect(r.gateError).toBeInstanceOf(GateFailed);
  expect(r.results.gates[0]).toMatchObject({ status: 'failed', earlyStop: { stopped: true, decision: 'fail' } });
  expect(r.markdown).toMatch(/decided after \d+ of 300 lines: web_eval\.accuracy ≥ 0\.8 upper bound 0\.\d+ &lt; 0\.8/);
}, 120_000);

test("a text grade counts through line_score: grade == Correct (the template's web_classification shape)", async () => {
  const r = await lifecycle(
    { ...evaluationFlow('"Correct" if correct else "Incorrect"'), ...data(300, (i) => i % 25 === 7) },
    '  - {metric: accuracy, evaluator: web_eval, min: 0.8, early_stop: true, line_score: grade == Correct}\n',
  );
  const e = r.record.early_stop!;
  expect(e).toMatchObject({ stopped: true, total: 300, gates: [{ decision: 'pass' }] });
  expect(e.lines).toBeLessThan(150);
  expect(r.requests).toBe(e.lines);
  expect(r.gateError).toBeUndefined();
  expect(r.results.gates[0]).toMatchObject({ status: 'passed', earlyStop: { stopped: true, lines: e.lines } });
  expect(r.results.gates[0].earlyStop!.lower).toBeCloseTo(e.gates[0].lower, 12);
  expect(r.markdown).toContain('(anytime-valid, α = 0.05, each line scored by grade == Correct)');
  // The mean of the grades read this way is the accuracy the flow logged: no warning.
  expect(r.host.lines.filter((l) => l.level === 'warning')).toEqual([]);
}, 120_000);

test('a per-line value that is not a score in [0, 1] stops bulk-run with exit 2 naming the gate, line and value', async () => {
  const uc = makeUseCase({
    ...llmNodeFlow(),
    ...evaluationFlow('"Correct" if correct else "Incorrect"'),
    ...data(40, () => false),
    'experiment.yaml': experiment(
      '  - {metric: accuracy, evaluator: web_eval, min: 0.8, early_stop: true, line_score: grade}\n',
    ),
  });
  try {
    const run = bulkRunStep.run(
      { config: path.join(uc.dir, 'experiment.yaml'), store: path.join(uc.dir, '.llmops'), cacheMode: 'off' },
      new MemoryHost(),
    );
    await expect(run).rejects.toThrow(ConfigError);
    await expect(run).rejects.toThrow(
      /experiment\.yaml:\d+:\d+: gate web_eval\.accuracy ≥ 0\.8: evaluation flow "web_eval" gave line \d+ the grade "Correct", expected a number in \[0, 1\] or a boolean per line/,
    );
  } finally {
    uc.cleanup();
  }
}, 60_000);

test('a logged metric that is not the mean of line_score gets a warning from evaluate', async () => {
  // The aggregation logs the share of wrong lines as accuracy: the early stop decides the mean of grade instead.
  const r = await lifecycle(
    {
      ...evaluationFlow('1 if correct else 0', '1 - sum(_score(g) for g in grades) / len(grades)'),
      ...data(300, (i) => i % 25 === 7),
    },
    '  - {metric: accuracy, evaluator: web_eval, min: 0.8, early_stop: true, line_score: grade}\n',
  );
  const warnings = r.host.lines.filter((l) => l.level === 'warning').map((l) => l.message);
  expect(warnings).toEqual([
    expect.stringMatching(
      /^evaluate: gate web_eval\.accuracy ≥ 0\.8 \[default\]: its early stop is decided on the mean of grade over the lines \(0\.\d\d\), but evaluator web_eval logged accuracy = 0\.0\d?; set line_score to the per-line output whose mean is accuracy$/,
    ),
  ]);
}, 120_000);

test('bulk-run refuses an early-stop gate it could not score before any line runs (exit 2 at the gate)', async () => {
  const uc = makeUseCase({
    ...llmNodeFlow(),
    ...evaluationFlow('1 if correct else 0'),
    ...data(40, () => false),
    'experiment.yaml': experiment('  - {metric: accuracy, evaluator: web_eval, min: 0.8, early_stop: true}\n'),
  });
  try {
    const before = server.stats().requests;
    const run = bulkRunStep.run(
      { config: path.join(uc.dir, 'experiment.yaml'), store: path.join(uc.dir, '.llmops'), cacheMode: 'off' },
      new MemoryHost(),
    );
    await expect(run).rejects.toThrow(ConfigError);
    await expect(run).rejects.toThrow(
      /experiment\.yaml:\d+:\d+: gates\[0\]\.early_stop: evaluation flow "web_eval" has no output "accuracy" to score each line by, expected line_score/,
    );
    expect(server.stats().requests).toBe(before);
  } finally {
    uc.cleanup();
  }
}, 60_000);

test('an evaluation flow failing on its lines leaves them unscored and says so once', async () => {
  const uc = makeUseCase({
    ...llmNodeFlow(),
    ...evaluationFlow('(_ for _ in ()).throw(ValueError("no grade for " + prediction))'),
    ...data(30, () => false),
    'experiment.yaml': experiment(
      '  - {metric: accuracy, evaluator: web_eval, min: 0.8, early_stop: true, line_score: grade}\n',
    ),
  });
  try {
    const host = new MemoryHost();
    await bulkRunStep.run(
      { config: path.join(uc.dir, 'experiment.yaml'), store: path.join(uc.dir, '.llmops'), cacheMode: 'off' },
      host,
    );
    const said = host.lines.filter((l) => l.message.includes('early stop: evaluation flow "web_eval" failed on line'));
    expect(said).toHaveLength(1);
    expect(said[0].message).toMatch(/no grade for q\d+.*lines it fails on are not scored/);
    // Nothing scored, nothing decided: every line ran.
    const runs = JSON.parse(readFileSync(path.join(uc.dir, '.llmops/experiments/demo/runs.json'), 'utf8'));
    const record = JSON.parse(
      readFileSync(path.join(uc.dir, '.llmops/runs', runs.runs[0].runId, 'run.json'), 'utf8'),
    ) as RunRecord;
    expect(record.early_stop).toMatchObject({ stopped: false, lines: 30, gates: [{ decision: 'open', n: 0 }] });
  } finally {
    uc.cleanup();
  }
}, 60_000);

/**
 * `gates[].early_stop: true` through bulk-run → evaluate → report against the local model server (it echoes the
 * question, so a line passes exact_match when its reference answer is its question). A clear case stops well
 * before the end with the verdict the full run would give, and the report says after how many lines and why; a
 * borderline case runs every line and the report says the full run was needed.
 */
import path from 'node:path';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { bulkRunStep } from '../../src/shared/steps/bulk-run.js';
import { GateFailed } from '../../src/shared/errors.js';
import { baseExperiment, llmNodeFlow, makeUseCase } from '../helpers/use-case-dir.js';
import { runLifecycle } from '../helpers/early-stop-lifecycle.js';

let server: ModelServerHandle;
beforeAll(async () => {
  server = await startModelServer({ rules: [{ match: '^(\\w+)$', answer: '{{1}}' }] });
  process.env.AOAI_API_BASE = server.url;
  process.env.AOAI_API_KEY = 'local-test-key';
});
afterAll(() => server.close());

/** `lines` lines; line i passes unless fails(i). */
function dataOf(lines: number, fails: (i: number) => boolean): string {
  return (
    Array.from({ length: lines }, (_, i) =>
      JSON.stringify({ question: `q${i}`, answer: fails(i) ? 'no' : `q${i}` }),
    ).join('\n') + '\n'
  );
}

function experiment(gate: string): string {
  return (
    baseExperiment.slice(0, baseExperiment.indexOf('evaluators:')) +
    'evaluators:\n  - name: exact\n    builtin: exact_match\n    datasets:\n      - name: train\n        mappings:\n          prediction: ${run.outputs.answer}\n          reference: ${data.answer}\n' +
    `gates:\n${gate}`
  );
}

async function lifecycle(data: string, gate: string) {
  const uc = makeUseCase({ ...llmNodeFlow(), 'data/train.jsonl': data, 'experiment.yaml': experiment(gate) });
  return { uc, ...(await runLifecycle(uc.dir, server)) };
}

test('a clear pass stops well before the end; evaluate and report see the lines that ran and say why', async () => {
  const r = await lifecycle(
    dataOf(400, (i) => i % 25 === 7),
    '  - {metric: exact_match, evaluator: exact, min: 0.8, early_stop: true}\n',
  );
  try {
    expect(r.gateError).toBeUndefined();
    const e = r.record.early_stop!;
    expect(e).toMatchObject({ stopped: true, total: 400, alpha: 0.05 });
    expect(e.lines).toBeGreaterThanOrEqual(20);
    expect(e.lines).toBeLessThan(150);
    expect(e.gates[0]).toMatchObject({ decision: 'pass' });
    expect(e.gates[0].lower).toBeGreaterThanOrEqual(0.8);
    // Lines not run are neither run nor failures.
    expect(r.requests).toBe(e.lines);
    expect(r.host.outputs.get('lines')).toBe(String(e.lines));
    expect(r.record.status).toBe('Completed');
    expect(r.record.counts).toEqual({ total: 400, completed: e.lines, failed: 0 });
    expect(r.record.order?.seed).toBe(20240917);
    expect(r.results.runs[0]).toMatchObject({ lines: 400, completed: e.lines, failed: 0 });
    expect(r.results.evaluations[0].lines).toBe(e.lines);
    const [gate] = r.results.gates;
    expect(gate.status).toBe('passed');
    expect(gate.earlyStop).toMatchObject({ stopped: true, lines: e.lines, total: 400, decision: 'pass' });
    // The report reads the same confidence sequence bulk-run stopped on.
    expect(gate.earlyStop!.lower).toBeCloseTo(e.gates[0].lower, 12);
    expect(gate.observed).toBeCloseTo(e.gates[0].lower, 12);
    const lower = gate.earlyStop!.lower.toFixed(2);
    expect(r.markdown).toContain(
      `decided after ${e.lines} of 400 lines: exact.exact_match ≥ 0.8 lower bound ${lower} ≥ 0.8 (anytime-valid, α = 0.05)`,
    );
    expect(r.html).toContain(`decided after ${e.lines} of 400 lines`);
    const logged = r.host.lines.map((l) => l.message);
    expect(logged.some((m) => m.includes(`early stop after ${e.lines} of 400 lines`))).toBe(true);
    // The evaluate step judges the stopped run by the same sequence.
    expect(logged).toContain(
      `evaluate: gate exact.exact_match ≥ 0.8 [default]: decided after ${e.lines} of 400 lines: exact.exact_match ≥ 0.8 lower bound ${lower} ≥ 0.8 (anytime-valid, α = 0.05)`,
    );
    expect(r.markdown).toContain(`${e.lines} of 400 (stopped early)`);
    expect(r.markdown).toContain(`early stop: ${e.lines} of 400 lines ran in 1 run(s)`);
    expect(r.results.runs[0].stoppedAfter).toBe(e.lines);
  } finally {
    r.uc.cleanup();
  }
}, 90_000);

test('a clear failure stops early with the failing verdict (exit 1 from report)', async () => {
  const r = await lifecycle(
    dataOf(400, (i) => i % 5 < 3),
    '  - {metric: exact_match, evaluator: exact, min: 0.8, early_stop: true}\n',
  );
  try {
    expect(r.record.early_stop).toMatchObject({ stopped: true, gates: [{ decision: 'fail' }] });
    expect(r.record.early_stop!.lines).toBeLessThan(100);
    expect(r.gateError).toBeInstanceOf(GateFailed);
    expect(r.results.gates[0]).toMatchObject({ status: 'failed', earlyStop: { stopped: true, decision: 'fail' } });
    expect(r.markdown).toMatch(
      /decided after \d+ of 400 lines: exact\.exact_match ≥ 0\.8 upper bound 0\.\d+ &lt; 0\.8/,
    );
  } finally {
    r.uc.cleanup();
  }
}, 90_000);

test('a borderline case runs to the end and the report says the full run was needed', async () => {
  // 49 of 60 lines pass (0.817): no confidence sequence at 60 lines separates that from 0.8.
  const r = await lifecycle(
    dataOf(60, (i) => i % 6 === 1 && i < 66),
    '  - {metric: exact_match, evaluator: exact, min: 0.8, early_stop: true}\n',
  );
  try {
    expect(r.record.early_stop).toMatchObject({ stopped: false, lines: 60, total: 60, gates: [{ decision: 'open' }] });
    expect(r.requests).toBe(60);
    const [gate] = r.results.gates;
    // The full run is judged as the gate says (here the metric's value, 0.833 ≥ 0.8).
    expect(gate.status).toBe('passed');
    expect(gate.earlyStop).toMatchObject({ stopped: false, lines: 60, total: 60 });
    expect(r.markdown).toContain('the full run was needed (60 lines)');
  } finally {
    r.uc.cleanup();
  }
}, 90_000);

test('--dry-run says the runs may stop early, and with what seed', async () => {
  const uc = makeUseCase({
    ...llmNodeFlow(),
    'data/train.jsonl': dataOf(30, () => false),
    'experiment.yaml': experiment('  - {metric: exact_match, evaluator: exact, min: 0.8, early_stop: true}\n'),
  });
  try {
    const host = new MemoryHost();
    const before = server.stats().requests;
    await bulkRunStep.run(
      { config: path.join(uc.dir, 'experiment.yaml'), store: path.join(uc.dir, '.llmops'), dryRun: true },
      host,
    );
    expect(server.stats().requests).toBe(before);
    expect(host.lines.map((l) => l.message).join('\n')).toContain(
      'note: early stopping (exact.exact_match ≥ 0.8): lines run in a random order (seed 20240917) and a run stops once every early-stop gate is decided',
    );
    expect(host.summary).toContain('early stopping (exact.exact_match ≥ 0.8)');
  } finally {
    uc.cleanup();
  }
});

test('early stopping with --shard is refused before anything runs, naming the gate', async () => {
  const uc = makeUseCase({
    ...llmNodeFlow(),
    'data/train.jsonl': dataOf(30, () => false),
    'experiment.yaml': experiment('  - {metric: exact_match, evaluator: exact, min: 0.8, early_stop: true}\n'),
  });
  try {
    const before = server.stats().requests;
    const run = bulkRunStep.run(
      { config: path.join(uc.dir, 'experiment.yaml'), store: path.join(uc.dir, '.llmops'), shard: '1/2' },
      new MemoryHost(),
    );
    await expect(run).rejects.toThrow(
      /experiment\.yaml:\d+:\d+: gates\[0\]\.early_stop: early stopping decides while one process runs the lines, found --shard 1\/2, expected the local target without --shard/,
    );
    expect(server.stats().requests).toBe(before);
  } finally {
    uc.cleanup();
  }
});

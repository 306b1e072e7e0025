/**
 * The stopper bulk-run uses and the verdict the report reads agree: lines finishing out of order (as concurrent
 * lines do) still reach the confidence sequence in the seed's order, so the bound bulk-run stopped on is the bound
 * the report recomputes from the recorded scores. Also: the seeded order is a permutation that does not depend on
 * which lines are still to run.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Evaluator, Gate } from '../../src/shared/config/types.js';
import { createRunStopper, sequentialVerdict } from '../../src/shared/eval/early-stop-run.js';
import { earlyStopGateResult } from '../../src/shared/eval/early-stop-verdict.js';
import { bySeededOrder } from '../../src/shared/runs/line-order.js';
import { CompiledMapping } from '../../src/shared/runs/mapping.js';
import type { PendingLine } from '../../src/shared/runs/pending-lines.js';
import type { LineRecord } from '../../src/shared/runs/store.js';
import { createRandom } from '../../src/shared/eval/stats/random.js';

const gate: Gate = {
  metric: 'exact_match',
  evaluator: 'exact',
  variants: 'all',
  min: 0.8,
  bound: 'value',
  higherIsBetter: true,
  requireSignificance: true,
  minLines: 10,
  earlyStop: true,
};
const evaluator: Evaluator = { name: 'exact', builtin: 'exact_match', options: {}, datasets: [] };

test('out-of-order finishing lines give the bound the report recomputes in the seed order', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'early-stop-'));
  try {
    const n = 300;
    const random = createRandom(3);
    const passes = Array.from({ length: n }, () => random() < 0.9);
    const file = path.join(dir, 'data.jsonl');
    writeFileSync(file, passes.map((_, i) => JSON.stringify({ answer: `a${i}` })).join('\n') + '\n');
    const seed = 99;
    const stopper = await createRunStopper(
      [
        {
          gate,
          name: 'g',
          evaluator,
          mapping: new CompiledMapping({ prediction: '${run.outputs.answer}', reference: '${data.answer}' }),
        },
      ],
      file,
      seed,
    );
    const record = (i: number): LineRecord => ({
      line_number: i,
      status: 'Completed',
      inputs: {},
      outputs: { answer: passes[i] ? `a${i}` : 'wrong' },
      latency_ms: 1,
      tokens: { prompt: 0, completion: 0, total: 0 },
    });
    // Handed out in the seed's order (with their rows, as the runner does), four at a time, finishing in a
    // random order within each group.
    const order = Array.from({ length: n }, (_, i) => i).sort(bySeededOrder(seed));
    const handed: PendingLine[] = [];
    for await (const batch of stopper.prepare(
      (async function* () {
        yield order.map((i) => ({ lineNumber: i, inputs: {}, row: { answer: `a${i}` } }));
      })(),
    ))
      handed.push(...batch);
    expect(handed.map((l) => l.place)).toEqual(order.map((_, k) => k));
    const ran: number[] = [];
    for (let k = 0; k < n && !stopper.decided(); k += 4) {
      const group = handed.slice(k, k + 4).sort(() => random() - 0.5);
      for (const line of group) {
        stopper.observe(record(line.lineNumber), line);
        ran.push(line.lineNumber);
      }
    }
    const summary = stopper.summary(ran.length < n, ran.length, n);
    expect(summary.stopped).toBe(true);
    expect(summary.gates[0].decision).toBe('pass');
    const recomputed = sequentialVerdict(
      gate,
      ran.map((i) => [i, passes[i] ? 1 : 0]),
      seed,
    );
    expect(recomputed.n).toBe(ran.length);
    expect(recomputed.lower).toBe(summary.gates[0].lower);
    expect(recomputed.upper).toBe(summary.gates[0].upper);
    expect(recomputed.decision).toBe('pass');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the seeded order is a permutation, the same for any subset of the lines', () => {
  const all = Array.from({ length: 1000 }, (_, i) => i).sort(bySeededOrder(5));
  expect(new Set(all).size).toBe(1000);
  const subset = all.filter((i) => i % 3 === 0);
  expect(
    Array.from({ length: 1000 }, (_, i) => i)
      .filter((i) => i % 3 === 0)
      .sort(bySeededOrder(5)),
  ).toEqual(subset);
  expect(Array.from({ length: 1000 }, (_, i) => i).sort(bySeededOrder(6))).not.toEqual(all);
  // Not the file order: about half of the first 100 lines of the order lie in the first half of the file.
  const early = all.slice(0, 100).filter((i) => i < 500).length;
  expect(early).toBeGreaterThan(35);
  expect(early).toBeLessThan(65);
});

test('a gate over several runs of a variant: a stopped failure fails it; a stopped pass leaves full runs to the gate', () => {
  const base = { name: 'g', metric: 'exact_match', evaluator: 'exact', variantId: 'default', threshold: '≥ 0.8' };
  const run = (stopped: boolean, decision: 'pass' | 'fail' | 'open', lower: number, upper: number) => ({
    runId: `r-${stopped}-${decision}`,
    stopped,
    lines: stopped ? 40 : 100,
    total: 100,
    alpha: 0.05,
    decision,
    n: stopped ? 40 : 100,
    lower,
    upper,
  });
  const fullFailed = { ...base, status: 'failed' as const, message: 'exact_match = 0.78 below the minimum 0.8' };
  const fullPassed = { ...base, status: 'passed' as const, message: 'exact_match = 0.9 meets ≥ 0.8' };
  const mixed = [run(true, 'pass', 0.82, 1), run(false, 'open', 0.7, 0.86)];
  expect(earlyStopGateResult(gate, base, mixed, fullFailed)).toMatchObject({
    status: 'failed',
    message: expect.stringContaining('1 other run(s) of this variant ran in full: exact_match = 0.78') as string,
  });
  expect(earlyStopGateResult(gate, base, mixed, fullPassed).status).toBe('passed');
  const failed = earlyStopGateResult(gate, base, [run(true, 'fail', 0.3, 0.7), run(true, 'pass', 0.85, 1)], fullPassed);
  expect(failed).toMatchObject({ status: 'failed', observed: 0.7, earlyStop: { decision: 'fail' } });
  expect(failed.message).toContain('decided after 40 of 100 lines: exact.exact_match ≥ 0.8 upper bound 0.70 < 0.8');
  const open = earlyStopGateResult(gate, base, [run(true, 'open', 0.75, 0.9)], fullPassed);
  expect(open).toMatchObject({ status: 'failed' });
  expect(open.message).toContain('leave exact.exact_match ≥ 0.8 undecided');
});

/**
 * The parity step as the GitHub action and the Azure DevOps task run it (the same declaration): on a copy of the
 * web_classification example with a parity block (tests/e2e/lifecycle-fixture.ts), every declared output is set,
 * the job summary holds the parity table, and the use case's evaluation flow runs on both sides from its own
 * evaluation dataset. A margin that is not a number above 0 is refused before anything runs.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/shared/errors.js';
import { MemoryHost } from '../../src/shared/host/memory.js';
import type { ParityResult } from '../../src/shared/parity/run.js';
import { parityStep } from '../../src/shared/steps/parity.js';
import { parityUseCase, startExampleModel } from '../e2e/lifecycle-fixture.js';

let model: { url: string; close(): Promise<void> };
let store: string;
beforeAll(async () => {
  model = await startExampleModel();
  store = mkdtempSync(path.join(os.tmpdir(), 'llmops-parity-step-'));
});
afterAll(async () => {
  await model.close();
  rmSync(store, { recursive: true, force: true });
});

test('the parity step sets every declared output and writes the summary; the evaluation flow runs on its own data', async () => {
  const host = new MemoryHost();
  const outputDir = path.join(store, 'reports');
  const config = parityUseCase(store);
  await parityStep.run({ config, store: path.join(store, '.llmops'), cacheMode: 'off', outputDir }, host);
  expect([...host.outputs.keys()].sort()).toEqual(parityStep.outputs.map((o) => o.name).sort());
  expect(host.outputs.get('equivalent')).toBe('true');
  expect(host.outputs.get('agreement')).toBe('1');
  expect(host.outputs.get('report')).toBe(path.join(outputDir, 'parity.html'));
  expect(JSON.parse(host.outputs.get('plan')!)).toMatchObject({
    dataset: 'web_classification_train',
    baseline: { kind: 'dag' },
    candidate: { kind: 'dag' },
    evaluators: ['web_classification_flow (evaluation flow)'],
  });
  expect(host.summary).toContain('equivalent within δ = 0.3');
  const result = JSON.parse(readFileSync(path.join(outputDir, 'parity.json'), 'utf8')) as ParityResult;
  expect(result).toMatchObject({ lines: 10, equivalent: true, agreement: { disagreements: 0 } });
  // The example's evaluation flow grades with a word (Correct/Incorrect): no per-line number to pair, and the
  // reasons say so instead of leaving it out silently. It ran on its own evaluation data on both sides.
  expect(result.evaluators).toEqual([]);
  expect(result.reasons).toContain(
    'not compared: "web_classification_flow" gave no numeric score on every line (a score per line to pair)',
  );
  const runs = path.join(store, '.llmops/runs');
  const evaluationRuns = readdirSync(runs).filter((r) => r.includes('web_classification_flow'));
  expect(evaluationRuns).toHaveLength(2);
  for (const r of evaluationRuns)
    expect(JSON.parse(readFileSync(path.join(runs, r, 'run.json'), 'utf8')).data).toEqual([
      expect.stringMatching(/eval_data\.jsonl$/),
    ]);
}, 120_000);

test('a margin of 0 is refused before anything runs', async () => {
  const error = await parityStep
    .run({ config: parityUseCase(path.join(store, 'zero')), margin: 0 }, new MemoryHost())
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as Error).message).toMatch(/input "margin".*found 0, expected a number > 0/s);
});

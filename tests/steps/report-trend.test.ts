/**
 * The report step keeps a history per build in the run store and shows the trend: three builds of a small use
 * case with the built-in exact_match evaluator, where the data changes between builds (so does the metric);
 * a fourth report reads an earlier build's results.json given with the `history` input (as a CI artifact).
 */
import { cpSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { bulkRunStep } from '../../src/shared/steps/bulk-run.js';
import { evaluateStep } from '../../src/shared/steps/evaluate.js';
import { reportStep } from '../../src/shared/steps/report.js';
import { ConfigError } from '../../src/shared/errors.js';
import { baseEnv, baseExperiment, makeUseCase } from '../helpers/use-case-dir.js';

// The flow has no model calls; the connection's placeholders only need values.
beforeAll(() => Object.assign(process.env, baseEnv));

const experiment =
  baseExperiment.slice(0, baseExperiment.indexOf('evaluators:')) +
  'evaluators:\n  - name: exact\n    builtin: exact_match\n    datasets:\n      - name: train\n        mappings:\n          prediction: ${run.outputs.answer}\n          reference: ${data.answer}\n';

/** Four lines, `right` of them answered correctly (the flow echoes the question). */
const data = (right: number) =>
  ['a', 'b', 'c', 'd'].map((q, i) => JSON.stringify({ question: q, answer: i < right ? q : 'x' })).join('\n') + '\n';

test('three builds: history in the store, a trend in the summary; an earlier artifact joins the history', async () => {
  const uc = makeUseCase({ 'experiment.yaml': experiment, 'data/train.jsonl': data(2) });
  try {
    const common = { config: path.join(uc.dir, 'experiment.yaml'), store: path.join(uc.dir, '.llmops') };
    const hosts: MemoryHost[] = [];
    for (const [build, right] of [
      ['101', 2],
      ['102', 3],
      ['103', 4],
    ] as const) {
      writeFileSync(path.join(uc.dir, 'data/train.jsonl'), data(right));
      const host = new MemoryHost();
      await bulkRunStep.run({ ...common, cacheMode: 'off' }, host);
      await evaluateStep.run({ ...common, cacheMode: 'off' }, host);
      await reportStep.run({ ...common, outputDir: path.join(uc.dir, `reports-${build}`), buildId: build }, host);
      hosts.push(host);
    }
    expect(readdirSync(path.join(uc.dir, '.llmops/history/demo')).sort()).toEqual(['101.json', '102.json', '103.json']);
    expect(hosts[0].summary).not.toContain('### Trend');
    expect(hosts[2].summary).toContain('### Trend');
    expect(hosts[2].summary).toMatch(/\| exact\.exact_match ↑ \| ▁▅█ \| 1 \[0\.51, 1\] \| ↗ \|/);

    // A fresh store (CI without a kept store): the earlier builds come from their artifacts instead.
    const fresh = { ...common, store: path.join(uc.dir, '.llmops-fresh') };
    const store = path.join(uc.dir, '.llmops');
    cpSync(store, fresh.store, { recursive: true, filter: (src) => !src.startsWith(path.join(store, 'history')) });
    const host = new MemoryHost();
    await reportStep.run(
      {
        ...fresh,
        outputDir: path.join(uc.dir, 'reports-104'),
        buildId: '104',
        history: `${path.join(uc.dir, 'reports-101')}, ${path.join(uc.dir, 'reports-102', 'results.json')}`,
        trendBuilds: '2',
      },
      host,
    );
    expect(host.summary).toMatch(/\| exact\.exact_match ↑ \| ▁█ \|/); // build 102 (0.75) then this one (1)
    await expect(
      reportStep.run({ ...fresh, outputDir: path.join(uc.dir, 'r'), trendBuilds: 'ten' } as never, new MemoryHost()),
    ).rejects.toThrow(ConfigError);
  } finally {
    uc.cleanup();
  }
});

/**
 * bulk-run → evaluate → report of a use case in process, against a local model server: what the early-stop tests
 * read afterwards (the run's record, results, summary and HTML, the host's lines, the model calls the run made).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ModelServerHandle } from '../../src/model-server/index.js';
import { MemoryHost } from '../../src/shared/host/memory.js';
import type { Results } from '../../src/shared/results/model.js';
import type { RunRecord } from '../../src/shared/runs/store.js';
import { bulkRunStep } from '../../src/shared/steps/bulk-run.js';
import { evaluateStep } from '../../src/shared/steps/evaluate.js';
import { reportStep } from '../../src/shared/steps/report.js';

export async function runLifecycle(dir: string, server: ModelServerHandle) {
  const host = new MemoryHost();
  const common = { config: path.join(dir, 'experiment.yaml'), store: path.join(dir, '.llmops') };
  const before = server.stats().requests;
  const bulk = await bulkRunStep.run({ ...common, cacheMode: 'off', concurrency: 4 }, host);
  const requests = server.stats().requests - before;
  await evaluateStep.run({ ...common, cacheMode: 'off' }, host);
  let gateError: unknown;
  try {
    await reportStep.run({ ...common, outputDir: path.join(dir, 'reports') }, host);
  } catch (e) {
    gateError = e;
  }
  const read = (f: string) => readFileSync(path.join(dir, f), 'utf8');
  const runId = bulk.runs[0].runId;
  return {
    host,
    requests,
    gateError,
    record: JSON.parse(read(`.llmops/runs/${runId}/run.json`)) as RunRecord,
    results: JSON.parse(read('reports/results.json')) as Results,
    markdown: read('reports/summary.md'),
    html: read('reports/report.html'),
  };
}

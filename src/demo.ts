/**
 * `npm run demo`: the whole local lifecycle on examples/web_classification, offline — the local
 * model server with the example's rules, then register-data, bulk-run (both datasets, both
 * variants), evaluate and report. Prints where the reports are.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runWithHost } from './cli-support.js';
import { startModelServer } from './shared/llm/index.js';
import { bulkRunStep } from './shared/steps/bulk-run.js';
import { evaluateStep } from './shared/steps/evaluate.js';
import { registerDataStep } from './shared/steps/register-data.js';
import { reportStep } from './shared/steps/report.js';

const example = 'examples/web_classification';
const config = `${example}/experiment.yaml`;
const store = process.env.LLMOPS_DEMO_STORE ?? mkdtempSync(path.join(os.tmpdir(), 'llmops-demo-'));
const reports = process.env.LLMOPS_DEMO_REPORTS ?? 'reports/web_classification';

const server = await startModelServer({ rules: `${example}/model-rules.yaml`, latencyMs: 5, jitterMs: 5, seed: 1 });
// The demo talks to the local model server only: this key is not a secret.
process.env.AOAI_API_BASE = server.url;
process.env.AOAI_API_KEY = 'local-demo-key';

try {
  await runWithHost({}, async (host) => {
    const started = Date.now();
    host.info(`demo: local model server at ${server.url}; run store ${store}`);
    await registerDataStep.run({ config, store }, host);
    await bulkRunStep.run({ config, store, variants: 'one_at_a_time', cacheMode: 'off' }, host);
    await evaluateStep.run({ config, store, cacheMode: 'off' }, host);
    await reportStep.run({ config, store, outputDir: reports }, host);
    host.info(`demo: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    host.info(`demo: open ${path.resolve(reports, 'report.html')} (also summary.md, results.json, *.csv, results.junit.xml)`);
  });
} finally {
  await server.close();
}

/**
 * `npm run demo [-- <example>]`: the whole local lifecycle on one example of examples/ (default
 * web_classification), offline — the local model server with the example's rules, then validate,
 * register-data, bulk-run (every dataset × variant), evaluate and report; then the best variant is
 * deployed locally, smoke-tested with the example's smoke tests, and stopped. Prints where the reports are.
 */
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runWithHost } from './cli-support.js';
import { fileURLToPath } from 'node:url';
import { deployAndVerify } from './shared/deploy/index.js';
import { startModelServer } from './model-server/index.js';
import { bulkRunStep } from './shared/steps/bulk-run.js';
import { evaluateStep } from './shared/steps/evaluate.js';
import { registerDataStep } from './shared/steps/register-data.js';
import { reportStep } from './shared/steps/report.js';
import { validateStep } from './shared/steps/validate.js';

const exampleName = process.argv[2] ?? 'web_classification';
const example = `examples/${exampleName}`;
if (!/^[\w-]+$/.test(exampleName) || !existsSync(`${example}/model-rules.yaml`)) {
  const known = readdirSync('examples').filter((d) => existsSync(`examples/${d}/model-rules.yaml`));
  process.stderr.write(`demo: no example "${exampleName}" in examples/; expected one of ${known.join(', ')}\n`);
  process.exit(2);
}
const config = `${example}/experiment.yaml`;
const store = process.env.LLMOPS_DEMO_STORE ?? mkdtempSync(path.join(os.tmpdir(), 'llmops-demo-'));
const reports = process.env.LLMOPS_DEMO_REPORTS ?? `reports/${exampleName}`;

const server = await startModelServer({ rules: `${example}/model-rules.yaml`, latencyMs: 5, jitterMs: 5, seed: 1 });
// The demo talks to the local model server only: this key is not a secret.
process.env.AOAI_API_BASE = server.url;
process.env.AOAI_API_KEY = 'local-demo-key';
// The deployed server is this bundle's sibling CLI, started as its own process.
process.env.LLMOPS_CLI ??= path.join(path.dirname(fileURLToPath(import.meta.url)), 'cli.js');

try {
  await runWithHost({}, async (host) => {
    const started = Date.now();
    host.info(`demo: ${exampleName}; local model server at ${server.url}; run store ${store}`);
    await validateStep.run({ config }, host);
    await registerDataStep.run({ config, store }, host);
    // The experiment's own variant plan: every variant for DAG flows, the flow as written for flex flows.
    await bulkRunStep.run({ config, store, cacheMode: 'off' }, host);
    await evaluateStep.run({ config, store, cacheMode: 'off' }, host);
    const { results } = await reportStep.run({ config, store, outputDir: reports }, host);

    const best = bestVariant(results);
    host.info(`demo: deploying the best variant (${best.id}) locally`);
    const deployment = await deployAndVerify({
      config,
      env: 'dev',
      variants: best.specs,
      stateDir: store,
      testsFile: `${example}/smoke-tests.yaml`,
      log: (l) => host.info(`  ${l}`),
    });
    host.info(
      `demo: ${deployment.endpoint} passed ${deployment.smoke.tests.filter((t) => t.passed).length}/${deployment.smoke.tests.length} smoke tests`,
    );
    await deployment.stop();
    host.info('demo: local deployment stopped');
    host.info(`demo: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    host.info(
      `demo: open ${path.resolve(reports, 'report.html')} (also summary.md, results.json, *.csv, results.junit.xml)`,
    );
  });
} finally {
  await server.close();
}

/** The variant with the best value of the first metric, as `${node.variant}` specs for deploy. */
function bestVariant(results: Awaited<ReturnType<typeof reportStep.run>>['results']): { id: string; specs: string[] } {
  const metric = results.metrics[0];
  const candidates = results.metrics.filter((m) => m.evaluator === metric?.evaluator && m.metric === metric?.metric);
  const best = candidates.reduce(
    (a, b) => ((b.higherIsBetter ? b.value > a.value : b.value < a.value) ? b : a),
    candidates[0],
  );
  const variant = results.variants.find((v) => v.id === best?.variantId) ?? results.variants[0];
  return { id: variant.id, specs: Object.entries(variant.selection).map(([node, id]) => `\${${node}.${id}}`) };
}

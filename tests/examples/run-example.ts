/**
 * Runs one example's whole lifecycle the way `npm run demo -- <example>` does (validate → register-data →
 * bulk-run with the experiment's variants → evaluate → report → local deploy → smoke tests → stop), offline on
 * the local model server with the example's rules, and returns what a test asserts on: the exit status, the log
 * and the results model the report step wrote.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MetricResult, Results } from '../../src/shared/results/model.js';

export interface ExampleRun {
  status: number | null;
  log: string;
  seconds: number;
  reports: string;
  results: () => Results;
  reportFiles: () => string[];
  cleanup(): void;
}

export async function runExample(example: string): Promise<ExampleRun> {
  const work = mkdtempSync(path.join(os.tmpdir(), `llmops-example-${example}-`));
  const reports = path.join(work, 'reports');
  const started = Date.now();
  const child = spawn(process.execPath, ['dist/demo.js', example], {
    env: {
      ...process.env,
      LLMOPS_DEMO_STORE: path.join(work, 'store'),
      LLMOPS_DEMO_REPORTS: reports,
      AOAI_API_KEY: '',
      AOAI_API_BASE: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (c) => (log += c));
  child.stderr.on('data', (c) => (log += c));
  const status = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    status,
    log,
    seconds: (Date.now() - started) / 1000,
    reports,
    results: () => JSON.parse(readFileSync(path.join(reports, 'results.json'), 'utf8')) as Results,
    reportFiles: () => readdirSync(reports).sort(),
    cleanup: () => rmSync(work, { recursive: true, force: true }),
  };
}

/** `evaluator.metric [variant]` → value, for metrics compared as a whole. */
export function metricTable(results: Results): Record<string, number> {
  return Object.fromEntries(results.metrics.map((m) => [`${m.evaluator}.${m.metric} [${m.variantId}]`, m.value]));
}

export function metric(results: Results, evaluator: string, name: string, variantId = 'default'): MetricResult {
  const found = results.metrics.find(
    (m) => m.evaluator === evaluator && m.metric === name && m.variantId === variantId,
  );
  if (!found)
    throw new Error(`no metric ${evaluator}.${name} [${variantId}] in ${JSON.stringify(metricTable(results))}`);
  return found;
}

/** A line's score by dataset line number, for one variant. */
export function scoresByLine(results: Results, key: string, variantId = 'default'): unknown[] {
  return results.lines
    .filter((l) => l.variantId === variantId)
    .sort((a, b) => a.lineNumber - b.lineNumber)
    .map((l) => l.scores[key]);
}

/**
 * The pull-request path of an example, in process: its pr and dev overlays validate, and bulk-run with the pr
 * overlay runs the pr dataset with every variant (no evaluation), on the local model server with its rules.
 */
export async function runPullRequestPath(
  example: string,
): Promise<{ runs: { dataset: string; variantId: string; lines: number; failed: number }[]; validated: string[] }> {
  const { startModelServer } = await import('../../src/model-server/index.js');
  const { MemoryHost } = await import('../../src/shared/host/memory.js');
  const { validateStep } = await import('../../src/shared/steps/validate.js');
  const { bulkRunStep } = await import('../../src/shared/steps/bulk-run.js');
  const config = `examples/${example}/experiment.yaml`;
  const server = await startModelServer({ rules: `examples/${example}/model-rules.yaml` });
  const saved = { base: process.env.AOAI_API_BASE, key: process.env.AOAI_API_KEY };
  process.env.AOAI_API_BASE = server.url;
  process.env.AOAI_API_KEY = 'local-test-key';
  const store = mkdtempSync(path.join(os.tmpdir(), `llmops-example-pr-${example}-`));
  try {
    const validated: string[] = [];
    for (const env of ['pr', 'dev']) {
      const { useCase } = await validateStep.run({ config, env }, new MemoryHost());
      validated.push(`${env}: ${path.basename(useCase.overlayFile ?? '(none)')}`);
    }
    const { runs } = await bulkRunStep.run({ config, env: 'pr', store, cacheMode: 'off' }, new MemoryHost());
    return {
      validated,
      runs: runs.map((r) => ({ dataset: r.dataset, variantId: r.variantId, lines: r.lines, failed: r.failed })),
    };
  } finally {
    process.env.AOAI_API_BASE = saved.base;
    process.env.AOAI_API_KEY = saved.key;
    await server.close();
    rmSync(store, { recursive: true, force: true });
  }
}

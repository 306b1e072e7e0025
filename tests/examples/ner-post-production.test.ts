/**
 * Post-production evaluation of examples/named_entity_recognition: the deployed flow (`llmops flow serve` with
 * --request-log) answers requests on the local model server and logs them; register-data takes that log as a
 * dataset; the experiment-postprod.yaml experiment replays the logged answers and scores them without ground truth.
 */
import type { Results } from '../../src/shared/results/model.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { bulkRunStep } from '../../src/shared/steps/bulk-run.js';
import { evaluateStep } from '../../src/shared/steps/evaluate.js';
import { registerDataStep } from '../../src/shared/steps/register-data.js';
import { reportStep } from '../../src/shared/steps/report.js';
import { metricTable, scoresByLine } from './run-example.js';

const UC = 'examples/named_entity_recognition';
const REQUESTS = [
  {
    entity_type: 'job title',
    text: 'The harbour master of Gdansk met the ferry captain at noon.',
    customer_email: 'mira@example.com',
  },
  { entity_type: 'person', text: 'Ingrid Holm presented the budget to Tarik Aziz.' },
  { entity_type: 'organization', text: 'Litware opened a lab next to the Adatum campus.' },
  { entity_type: 'city', text: 'We flew from Porto to Valencia via Madrid.' },
  { entity_type: 'date', text: 'The report covers sales in spring.' },
  { entity_type: 'job title', text: 'Our sommelier and the pastry chef planned the menu.' },
];

let repo: string;
let model: ModelServerHandle;
let serve: ChildProcess | undefined;
beforeAll(async () => {
  repo = mkdtempSync(path.join(os.tmpdir(), 'llmops-ner-postprod-'));
  mkdirSync(path.join(repo, '.git'));
  cpSync(UC, path.join(repo, UC), { recursive: true });
  model = await startModelServer({ rules: `${UC}/model-rules.yaml` });
});
afterAll(async () => {
  serve?.kill('SIGKILL');
  await model.close();
  rmSync(repo, { recursive: true, force: true });
});

/** `llmops flow serve --config … --request-log …` on a free port; resolves with its URL once it listens. */
function startServe(logFile: string): Promise<string> {
  serve = spawn(
    process.execPath,
    [
      path.resolve('dist/cli.js'),
      ...['flow', 'serve', '--config', `${UC}/experiment.yaml`, '--port', '0'],
      ...['--request-log', logFile, '--request-log-redact', 'customer_email'],
    ],
    { cwd: repo, env: { ...process.env, AOAI_API_BASE: model.url, AOAI_API_KEY: 'local-key-5678' } },
  );
  let err = '';
  return new Promise((resolve, reject) => {
    serve!.stderr!.on('data', (c) => {
      err += c;
      const url = /"msg":"listening","url":"([^"]+)"/.exec(err)?.[1];
      if (url) resolve(url);
    });
    serve!.on('exit', (code) => reject(new Error(`flow serve exited ${code}: ${err}`)));
  });
}

test('served requests are logged, registered as a dataset, replayed and scored: grounded and empty rates', async () => {
  const logFile = path.join(repo, UC, 'data', 'production_log.jsonl');
  rmSync(logFile);
  const url = await startServe(logFile);
  for (const [i, body] of REQUESTS.entries()) {
    const r = await fetch(`${url}/score`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', 'x-request-id': `req-${String(i + 1).padStart(4, '0')}` },
    });
    expect(r.status).toBe(200);
  }
  const exited = new Promise((r) => serve!.once('exit', r));
  serve!.kill('SIGTERM');
  await exited;

  // The log as served; the committed example log is one made the same way.
  // The measured figures of each request (status, latency, tokens, cost) are checked by tests/monitor; the
  // example's dataset keeps what the served requests asked and answered.
  const withoutTime = (text: string) =>
    text
      .replace(/"time":"[^"]+",/g, '')
      .replace(/"status":\d+,"latency_ms":[\d.]+,("tokens":\{[^}]*\},)?("cost_usd":[\d.e-]+,)?/g, '');
  const log = readFileSync(logFile, 'utf8');
  expect(withoutTime(log)).toBe(withoutTime(readFileSync(`${UC}/data/production_log.jsonl`, 'utf8')));
  expect(log).not.toContain('mira@example.com');
  expect(log).not.toContain('local-key-5678');
  expect(JSON.parse(log.split('\n')[2])).toMatchObject({
    'inputs.text': REQUESTS[2].text,
    'outputs.entities': ['Litware', 'Adatum', 'Microsoft'],
  });

  const config = path.join(repo, UC, 'experiment-postprod.yaml');
  const store = path.join(repo, '.llmops');
  const host = new MemoryHost();
  const { datasets } = await registerDataStep.run({ config, store }, host);
  expect(datasets.ner_production_log).toMatchObject({ rows: 6, version: '1', created: true });
  const { runs } = await bulkRunStep.run({ config, store, cacheMode: 'off' }, host);
  expect(runs.map((r) => `${r.dataset}: ${r.lines - r.failed}/${r.lines}`)).toEqual(['ner_production_log: 6/6']);
  await evaluateStep.run({ config, store, cacheMode: 'off' }, host);
  await reportStep.run({ config, store, outputDir: path.join(repo, 'reports') }, host);
  // The step returns the results without their lines; results.json holds them all.
  const results = JSON.parse(readFileSync(path.join(repo, 'reports', 'results.json'), 'utf8')) as Results;
  // Per line: Microsoft is not in its text (2 of 3 grounded), head chef neither (1 of 2); the fifth found nothing.
  expect(scoresByLine(results, 'production_quality.grounded')).toEqual([1, 1, 0.6667, 1, 1, 0.5]);
  expect(scoresByLine(results, 'production_quality.empty')).toEqual([0, 0, 0, 0, 1, 0]);
  expect(metricTable(results)).toEqual({
    'production_quality.grounded_rate [default]': 0.8611,
    'production_quality.empty_rate [default]': 0.1667,
  });
  expect(results.metrics.every((m) => m.interval?.n === 6)).toBe(true);
  expect(results.gates.map((g) => `${g.metric}: ${g.status}`)).toEqual(['grounded_rate: passed']);
}, 90_000);

/**
 * Every packaged action, bundled, run end to end by @github/local-action on Node 24 (the
 * runner's runtime) on examples/web_classification. local-action stubs the toolkit only in
 * untranspiled code, so inside the bundle the real @actions/core runs: outputs and the job
 * summary are read back from the GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, as the runner does.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { packagedSteps } from '../../../src/packaging/steps.js';
import { buildOnce } from '../../packaging/build-once.js';
import { MASK_COMMAND } from '../../packaging/capture.js';
import { prepareStore, startExampleModel, stopAll } from '../lifecycle-fixture.js';
import { nodeBinary } from '../../helpers/node-runtimes.js';
import { startKubeExample, type KubeExample } from '../../support/kubernetes/example.js';

const root = process.cwd();
const example = 'examples/web_classification/experiment.yaml';
const SECRET = 'ghp_e2eSecretToken0123456789';

interface Run {
  code: number;
  stdout: string;
  outputs: Record<string, string>;
  summary: string;
}

/** Inputs of each step's end-to-end case. A new step in the registry needs its case here. */
const cases: Record<string, (store: string) => Record<string, string>> = {
  validate: () => ({ config: example }),
  // The DataOps example: its pipeline rebuilds the committed data byte for byte, so the repository is not changed.
  'data-pipeline': (store) => ({ config: 'examples/named_entity_recognition/experiment.yaml', store }),
  'register-data': (store) => ({ config: example, store }),
  'bulk-run': (store) => ({ config: example, store, 'cache-mode': 'off' }),
  evaluate: (store) => ({ config: example, store, 'cache-mode': 'off' }),
  report: (store) => ({ config: example, store, 'output-dir': path.join(store, 'reports') }),
  deploy: (store) => ({ config: example, env: 'dev', target: 'local', 'state-dir': store }),
  'smoke-test': (store) => ({
    config: example,
    env: 'dev',
    'state-dir': store,
    'junit-file': path.join(store, 'smoke.junit.xml'),
  }),
};
let model: { url: string; close(): Promise<void> };
let kube: KubeExample | undefined;

/** Parse the GITHUB_OUTPUT file (name<<delimiter / value / delimiter blocks). */
function readOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /^([^\n<]+)<<(\S+)\n([\s\S]*?)\n\2$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) out[m[1]] = m[3];
  return out;
}

async function runAction(actionFolder: string, bundle: string, inputs: Record<string, string>): Promise<Run> {
  const node24 = path.dirname(nodeBinary(24));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-local-action-'));
  try {
    const files = { GITHUB_OUTPUT: path.join(dir, 'output'), GITHUB_STEP_SUMMARY: path.join(dir, 'summary.md') };
    writeFileSync(files.GITHUB_OUTPUT, '');
    writeFileSync(files.GITHUB_STEP_SUMMARY, '');
    const env: Record<string, string> = {
      ...files,
      AOAI_API_BASE: model.url,
      AOAI_API_KEY: 'sk-e2e-key',
      LLMOPS_CLI: process.env.LLMOPS_CLI!,
      GITHUB_WORKSPACE: root,
      ACTIONS_STEP_DEBUG: 'false',
    };
    for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
    writeFileSync(
      path.join(dir, '.env'),
      Object.entries(env)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n') + '\n',
    );
    const entry = path.relative(path.join(root, actionFolder), path.join(root, bundle));
    // local-action exits with the action's exit code: a failing case is not an exec error here.
    const { stdout, code } = await promisify(execFile)(
      path.join(root, 'node_modules/.bin/local-action'),
      ['run', actionFolder, entry, path.join(dir, '.env')],
      {
        cwd: root,
        env: { ...process.env, PATH: `${node24}:${process.env.PATH}`, NODE_OPTIONS: '' },
        maxBuffer: 16 * 1024 * 1024,
      },
    ).then(
      (r) => ({ stdout: r.stdout, code: 0 }),
      (e: { stdout?: string; code?: number }) => ({ stdout: e.stdout ?? '', code: e.code ?? -1 }),
    );
    return {
      code,
      stdout,
      outputs: readOutputs(readFileSync(files.GITHUB_OUTPUT, 'utf8')),
      summary: readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const store = mkdtempSync(path.join(os.tmpdir(), 'llmops-e2e-store-'));
const runs = new Map<string, Promise<Run>>();

beforeAll(async () => {
  buildOnce('package.mjs', 'dist/actions-meta.json');
  model = await startExampleModel();
  // local-action spends most of its time starting up (npm exec, tsx): run every case at once,
  // each on a store holding what the steps before it produced.
  for (const { step } of packagedSteps) {
    const inputs = cases[step.name];
    const caseStore = path.join(store, step.name);
    if (inputs)
      runs.set(
        step.name,
        prepareStore(step.name, caseStore).then(() =>
          runAction(`actions/${step.name}`, `dist/actions/${step.name}/index.js`, inputs(caseStore)),
        ),
      );
  }
  runs.set('_root', runAction('.', 'dist/actions/_root/index.js', { step: 'validate', config: example }));
  // deploy --target kubernetes: an emulated cluster whose pods run the example's image (tests/support/kubernetes).
  kube = await startKubeExample(model.url, 'sk-e2e-key');
  runs.set(
    '_kubernetes',
    runAction('actions/deploy', 'dist/actions/deploy/index.js', {
      config: kube.config,
      env: 'dev',
      target: 'kubernetes',
      kubeconfig: kube.kubeconfig,
      'state-dir': path.join(store, '_kubernetes'),
    }),
  );
  runs.set(
    '_secret',
    runAction('actions/validate', 'dist/actions/validate/index.js', {
      config: `missing-${SECRET}/experiment.yaml`,
      'github-token': SECRET,
    }),
  );
}, 300_000);

afterAll(async () => {
  await kube?.stop();
  await stopAll();
  await model?.close();
  rmSync(store, { recursive: true, force: true });
});

test.each(packagedSteps.map((p) => p.step.name))(
  'the %s action runs end to end on Node 24 with outputs and a job summary',
  async (name) => {
    expect(cases[name] ? 'has an end-to-end case' : `add ${name} to the cases table in this file`).toBe(
      'has an end-to-end case',
    );
    const run = await runs.get(name)!;
    const step = packagedSteps.find((p) => p.step.name === name)!.step;
    expect(Object.keys(run.outputs).sort()).toEqual(step.outputs.map((o) => o.name).sort());
    expect(run.summary).toContain(`### ✅ llmops ${name}`);
    expect(run.stdout).not.toMatch(/^::error/m);
    expect(run.code).toBe(0);
  },
  300_000,
);

test('deploy --target kubernetes: the example rolled out on the emulated cluster, outputs and summary', async () => {
  const run = await runs.get('_kubernetes')!;
  expect(run.stdout).not.toMatch(/^::error/m);
  expect(run.code).toBe(0);
  expect(run.outputs['deployment-name']).toBe('web-classification-blue');
  expect(JSON.parse(run.outputs.traffic)).toEqual({ 'web-classification-blue': 100 });
  expect(run.outputs.endpoint).toBe(`${kube!.cluster.gateway.url}/score`);
  expect(run.summary).toContain('✅ promoted');
  const logged = run.stdout.split('\n').filter((l) => !MASK_COMMAND.test(l));
  expect([...logged, run.summary].join('\n')).not.toContain('sk-e2e-key');
}, 300_000);

test('register-data versions the three datasets of web_classification', async () => {
  const run = await runs.get('register-data')!;
  const datasets = JSON.parse(run.outputs.datasets);
  expect(Object.keys(datasets).sort()).toEqual([
    'web_classification_train',
    'web_classification_train_eval',
    'web_classification_train_new',
  ]);
  expect(datasets.web_classification_train).toMatchObject({ version: '1', rows: 10, created: true });
  expect(run.stdout).toContain('web_classification_train: 10 rows, version 1 (new)');
  expect(run.summary).toMatch(/\| datasets \| `\{"web_classification_train"/);
}, 300_000);

test('the root action dispatches on its step input', async () => {
  const run = await runs.get('_root')!;
  expect(run.outputs).toEqual({ 'experiment-name': 'web_classification', 'flow-kind': 'dag' });
  expect(run.summary).toContain('### ✅ llmops validate');
}, 300_000);

test('a secret input never shows in a log line, an annotation, an output or the summary, even inside an error', async () => {
  const run = await runs.get('_secret')!;
  expect(run.code).not.toBe(0);
  const shown = run.stdout
    .split('\n')
    .filter((l) => !MASK_COMMAND.test(l))
    .join('\n');
  expect(shown).toMatch(/^::error.*missing-\*\*\*\/experiment\.yaml/m);
  expect(run.summary).toContain('### ❌ llmops validate failed: exit code 2');
  expect(run.summary).toContain('missing-***');
  for (const text of [shown, run.summary, JSON.stringify(run.outputs)]) expect(text).not.toContain(SECRET);
}, 300_000);

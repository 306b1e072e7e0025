/**
 * Every packaged action, bundled, run end to end by @github/local-action on Node 24 (the
 * runner's runtime) on examples/web_classification. local-action stubs the toolkit only in
 * untranspiled code, so inside the bundle the real @actions/core runs: outputs and the job
 * summary are read back from the GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, as the runner does.
 */
import { execFile } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { packagedSteps } from '../../../src/packaging/steps.js';
import { buildOnce } from '../../packaging/build-once.js';
import { MASK_COMMAND } from '../../packaging/capture.js';
import { parityUseCase, prepareStore, startExampleModel, stopAll } from '../lifecycle-fixture.js';
import { nodeBinary } from '../../helpers/node-runtimes.js';
import { DeployEmulators } from '../../support/azure/deploy-emulators.js';
import { stringify } from 'yaml';
import { startWebAppFixture } from '../../support/azure/webapp-fixture.js';
import { startContainerAppsCase } from '../../support/azure/container-apps-fixture.js';
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
  parity: (store) => ({
    config: parityUseCase(store),
    store,
    'cache-mode': 'off',
    'output-dir': path.join(store, 'parity'),
  }),
  deploy: (store) => ({ config: example, env: 'dev', target: 'local', 'state-dir': store }),
  'smoke-test': (store) => ({
    config: example,
    env: 'dev',
    'state-dir': store,
    'junit-file': path.join(store, 'smoke.junit.xml'),
  }),
};

interface TargetCase {
  inputs: Record<string, string>;
  env: Record<string, string>;
  stop(): Promise<void>;
}
/** More cases of a step, for targets that need their own services (emulators): each starts and stops its own. */
const targetCases: Record<string, { step: string; start: (store: string) => Promise<TargetCase> }> = {
  'deploy --target container-app': {
    step: 'deploy',
    start: async (store) => {
      const c = await startContainerAppsCase(model.url, 'sk-e2e-key');
      const inputs = { config: c.config, env: 'dev', target: 'container-app', 'state-dir': store };
      return { inputs, env: c.env, stop: c.stop };
    },
  },
};
const stops: (() => Promise<void>)[] = [];
let model: { url: string; close(): Promise<void> };
let azure: DeployEmulators | undefined;
let kube: KubeExample | undefined;

/** Parse the GITHUB_OUTPUT file (name<<delimiter / value / delimiter blocks). */
function readOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /^([^\n<]+)<<(\S+)\n([\s\S]*?)\n\2$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) out[m[1]] = m[3];
  return out;
}

async function runAction(
  actionFolder: string,
  bundle: string,
  inputs: Record<string, string>,
  extraEnv: Record<string, string> = {},
): Promise<Run> {
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
      ...extraEnv,
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
        // NODE_EXTRA_CA_CERTS (the Azure emulator's certificate) is read when node starts: not from the .env file.
        env: { ...process.env, PATH: `${node24}:${process.env.PATH}`, NODE_OPTIONS: '', ...extraEnv },
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
  // Started before the actions below load the machine (Azurite gives itself 30 s to start).
  azure = await DeployEmulators.start({
    cli: path.resolve('dist/cli.js'),
    connections: { aoai: { api_key: 'sk-e2e-key', api_base: model.url } },
  });
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
  for (const [name, c] of Object.entries(targetCases))
    runs.set(
      name,
      c.start(path.join(store, name.replace(/\W+/g, '-'))).then((t) => {
        stops.push(t.stop);
        return runAction(`actions/${c.step}`, `dist/actions/${c.step}/index.js`, t.inputs, t.env);
      }),
    );
  runs.set('_root', runAction('.', 'dist/actions/_root/index.js', { step: 'validate', config: example }));
  runs.set('_deploy-azure', deployToAzureEmulator());
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
  await azure?.stop();
  for (const stop of stops) await stop();
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

/**
 * The deploy action with target azure-managed, against the ARM emulator: nothing but the bundle (no LLMOPS_CLI,
 * no installed CLI) builds the serving image's context, registers it, and rolls the deployment out.
 */
async function deployToAzureEmulator(): Promise<Run> {
  if (!azure) throw new Error('the Azure emulators did not start');
  const dir = path.join(store, 'azure-use-case');
  cpSync('examples/web_classification', dir, { recursive: true });
  mkdirSync(path.join(dir, '.git'));
  appendFileSync(path.join(dir, 'experiment.yaml'), `\n${stringify({ azure: azure.ready.azure })}`);
  const run = await runAction(
    'actions/deploy',
    'dist/actions/deploy/index.js',
    {
      config: path.join(dir, 'experiment.yaml'),
      env: 'dev',
      target: 'azure-managed',
      location: 'westeurope',
      'state-dir': path.join(dir, '.llmops'),
    },
    { ...azure.ready.env, LLMOPS_CLI: '' },
  );
  return run;
}

test('the deploy action rolls a flow out to an Azure ML online endpoint from the bundle alone', async () => {
  const run = await runs.get('_deploy-azure')!;
  expect(run.stdout).not.toMatch(/^::error/m);
  expect(run.code).toBe(0);
  expect(run.outputs).toMatchObject({
    endpoint: `${azure!.ready.scoringUrl}/web-classification-dev/score`,
    'deployment-name': 'green',
    traffic: '{"green":100}',
  });
  expect(run.summary).toContain('### ✅ llmops deploy');
  expect(run.summary).toContain('Rollout of green to web-classification-dev (azure-managed): ✅ promoted');
  const state = await azure!.state();
  expect(state.endpoints['web-classification-dev']).toEqual({
    traffic: { green: 100 },
    deployments: { green: 'Succeeded' },
  });
  // The image ran the CLI the action shipped beside its bundle, copied into the build context.
  expect(state.servedFrom).toEqual([expect.stringMatching(/[\\/]context[\\/]app[\\/]dist[\\/]cli\.js$/)]);
  // Smoke tests went to green alone (the header) before it had traffic, and passed.
  expect(state.scored.some((s) => s.header && s.deployment === 'green' && s.status === 200)).toBe(true);
  expect(state.specViolations).toEqual([]);
  for (const secret of [...state.keys, 'sk-e2e-key', azure!.ready.env.AZURE_CLIENT_SECRET])
    for (const text of [
      run.stdout
        .split('\n')
        .filter((l) => !MASK_COMMAND.test(l))
        .join('\n'),
      run.summary,
    ])
      expect(text).not.toContain(secret);
}, 300_000);
test.each(Object.keys(targetCases))(
  '%s runs end to end on Node 24 with outputs and a job summary',
  async (name) => {
    const run = await runs.get(name)!;
    const step = packagedSteps.find((p) => p.step.name === targetCases[name].step)!.step;
    expect(run.stdout).not.toMatch(/^::error/m);
    expect(run.code).toBe(0);
    expect(Object.keys(run.outputs).sort()).toEqual(step.outputs.map((o) => o.name).sort());
    expect(run.summary).toContain(`### ✅ llmops ${step.name}`);
    expect(run.summary).toContain('✅ promoted');
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

/** deploy to the other targets, each against its emulators started by its row: inputs, env, and what to check. */
interface DeployTargetCase {
  inputs: Record<string, string>;
  env: Record<string, string>;
  check(run: Run): void;
  stop(): Promise<void>;
}
const deployTargetCases: Record<string, (store: string) => Promise<DeployTargetCase>> = {
  webapp: async (store) => {
    const f = await startWebAppFixture(model, 'sk-e2e-key');
    return {
      inputs: {
        config: f.config,
        env: 'dev',
        target: 'webapp',
        'state-dir': store,
        tests: path.join(path.dirname(f.config), 'smoke-tests.yaml'),
      },
      env: f.env,
      check: (run) => {
        const image = f.web.imageOf('web-classification-dev');
        expect(image).toMatch(/^llmopsregistry\.azurecr\.io\/llmops\/web_classification-dev:[0-9a-f]{16}$/);
        expect(run.outputs).toMatchObject({ 'deployment-name': image, traffic: JSON.stringify({ [image]: 100 }) });
        expect(run.summary).toContain('✅ promoted');
        expect(f.arm.specViolations()).toEqual([]);
      },
      stop: f.stop,
    };
  },
};

test.each(Object.keys(deployTargetCases))(
  'the deploy action deploys to target %s end to end',
  async (target) => {
    const caseStore = path.join(store, `deploy-${target}`);
    const c = await deployTargetCases[target](caseStore);
    try {
      const run = await runAction('actions/deploy', 'dist/actions/deploy/index.js', c.inputs, c.env);
      expect(run.stdout).not.toMatch(/^::error/m);
      expect(run.code).toBe(0);
      expect(Object.keys(run.outputs).sort()).toEqual(['deployment-name', 'deployments', 'endpoint', 'traffic']);
      c.check(run);
    } finally {
      await c.stop();
    }
  },
  300_000,
);

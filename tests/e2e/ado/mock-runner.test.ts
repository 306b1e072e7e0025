/**
 * Every packaged Azure DevOps task, bundled, run through azure-pipelines-task-lib's
 * MockTestRunner (v5: LoadAsync, then runAsync) on examples/web_classification, on the Node 24
 * handler its task.json declares (the only one: our dependencies need Node >= 22). The bundle carries its own task-lib, so the
 * runner runs it unmocked (`run(true)`) and the assertions read the real ##vso commands.
 * The runner would download Node; the test points its download folder at the local binaries.
 */
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageVersion } from '../../../src/packaging/generate.js';
import { packagedSteps } from '../../../src/packaging/steps.js';
import { camel } from '../../../src/shared/steps/declare.js';
import { buildOnce } from '../../packaging/build-once.js';
import { MASK_COMMAND } from '../../packaging/capture.js';
import { parityUseCase, prepareStore, startExampleModel, stopAll } from '../lifecycle-fixture.js';
import { nodeBinary } from '../../helpers/node-runtimes.js';
import { DeployEmulators } from '../../support/azure/deploy-emulators.js';
import { stringify } from 'yaml';
import { startContainerAppsCaseInChild } from '../../support/azure/container-apps-fixture.js';
import { startKubeExampleProcess } from '../../support/kubernetes/example.js';

const root = process.cwd();
const example = path.join(root, 'examples/web_classification/experiment.yaml');
const SECRET = 'ado-e2e-secret-value-42';
const vsix = `dist/llmops-${packageVersion(root)}.vsix`;
const work = mkdtempSync(path.join(os.tmpdir(), 'llmops-ado-'));

/** Inputs (task.json names) of each step's case. A new step in the registry needs its case here. */
const cases: Record<string, (store: string) => Record<string, string>> = {
  validate: () => ({ config: example }),
  // The DataOps example: its pipeline rebuilds the committed data byte for byte, so the repository is not changed.
  'data-pipeline': (store) => ({ config: 'examples/named_entity_recognition/experiment.yaml', store }),
  'register-data': (store) => ({ config: example, store }),
  'bulk-run': (store) => ({ config: example, store, cacheMode: 'off' }),
  evaluate: (store) => ({ config: example, store, cacheMode: 'off' }),
  report: (store) => ({ config: example, store, outputDir: path.join(store, 'reports') }),
  parity: (store) => ({ config: parityUseCase(store), store, cacheMode: 'off', outputDir: path.join(store, 'parity') }),
  deploy: (store) => ({ config: example, env: 'dev', target: 'local', stateDir: store }),
  'smoke-test': (store) => ({
    config: example,
    env: 'dev',
    stateDir: store,
    junitFile: path.join(store, 'smoke.junit.xml'),
  }),
};

interface TargetCase {
  inputs: Record<string, string>;
  env: Record<string, string>;
  stop(): Promise<void>;
}
/**
 * More cases of a step, for targets that need their own services: each starts and stops its own, in a child
 * process (runAsync blocks this one).
 */
const targetCases: Record<string, { step: string; start: (store: string) => Promise<TargetCase> }> = {
  'deploy --target container-app': {
    step: 'deploy',
    start: async (store) => {
      const c = await startContainerAppsCaseInChild(model.url, 'sk-ado-key');
      return { inputs: { config: c.config, env: 'dev', target: 'container-app', stateDir: store }, ...c };
    },
  },
};
let model: { url: string; close(): Promise<void> };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
let MockTestRunner: any;

beforeAll(async () => {
  buildOnce('package-ado.mjs', vsix);
  model = await startExampleModel({ childProcess: true });
  // MockTestRunner looks for Node under $HOME/azure-pipelines-task-lib/_download, fixed when it loads.
  const home = path.join(work, 'home');
  const download = path.join(home, 'azure-pipelines-task-lib/_download');
  for (const [major, version, binary] of [['24', 'v24.10.0', nodeBinary(24)]]) {
    const bin = path.join(download, `node${major}`, `node-${version}-linux-x64`, 'bin');
    mkdirSync(bin, { recursive: true });
    symlinkSync(binary, path.join(bin, 'node'));
    writeFileSync(path.join(download, `node${major}.completed`), '');
  }
  const savedHome = process.env.HOME;
  process.env.HOME = home;
  ({ MockTestRunner } = await import('azure-pipelines-task-lib/mock-test.js'));
  process.env.HOME = savedHome;
}, 300_000);

afterAll(async () => {
  await azure?.stop();
  await stopAll();
  await model?.close();
  rmSync(work, { recursive: true, force: true });
});

/** Write a TaskMockRunner script for the task's bundle and run it with MockTestRunner. */
async function runTask(
  step: string,
  inputs: Record<string, string>,
  nodeVersion: number,
  env: Record<string, string> = {},
  secrets: Record<string, string> = {},
) {
  const script = path.join(work, `${step}-${Math.random().toString(36).slice(2)}.cjs`);
  const temp = mkdtempSync(path.join(work, 'agent-temp-'));
  writeFileSync(
    script,
    `const { TaskMockRunner } = require(${JSON.stringify(path.join(root, 'node_modules/azure-pipelines-task-lib/mock-run.js'))});
Object.assign(process.env, ${JSON.stringify({ AOAI_API_BASE: model.url, AOAI_API_KEY: 'sk-ado-key', LLMOPS_CLI: process.env.LLMOPS_CLI, AGENT_TEMPDIRECTORY: temp, ...env })});
// NODE_EXTRA_CA_CERTS only counts when node starts: a certificate given here is added to the running process.
if (process.env.NODE_EXTRA_CA_CERTS) require('node:tls').setDefaultCACertificates([...require('node:tls').getCACertificates('default'), require('node:fs').readFileSync(process.env.NODE_EXTRA_CA_CERTS, 'utf8')]);
const tmr = new TaskMockRunner(${JSON.stringify(path.join(root, 'ado-tasks', step, 'dist/index.js'))});
${Object.entries(inputs)
  .map(([k, v]) => `tmr.setInput(${JSON.stringify(k)}, ${JSON.stringify(v)});`)
  .join('\n')}
${Object.entries(secrets)
  .map(([k, v]) => `tmr.setVariableName(${JSON.stringify(k)}, ${JSON.stringify(v)}, true);`)
  .join('\n')}
tmr.run(true);
`,
  );
  const runner = new MockTestRunner();
  await runner.LoadAsync(script, path.join(root, 'ado-tasks', step, 'task.json'));
  await runner.runAsync(nodeVersion);
  const stdout: string = runner.stdout;
  const variables = Object.fromEntries(
    [...stdout.matchAll(/##vso\[task\.setvariable variable=([^;]+);[^\]]*isOutput=true[^\]]*\](.*)/g)].map((m) => [
      m[1],
      m[2],
    ]),
  );
  const summaryFile = /##vso\[task\.addattachment type=Distributedtask\.Core\.Summary;name=[^;]+;\](.*)/
    .exec(stdout)?.[1]
    ?.trim();
  const summary = summaryFile ? (await import('node:fs')).readFileSync(summaryFile, 'utf8') : '';
  return { runner, stdout, variables, summary };
}

describe.each([24])('on the Node%i handler', (nodeVersion) => {
  test.each(packagedSteps.map((p) => p.step.name))(
    'the %s task succeeds with its output variables and a summary tab',
    async (name) => {
      expect(cases[name] ? 'has a case' : `add ${name} to the cases table in this file`).toBe('has a case');
      const store = path.join(work, `store-${name}-${nodeVersion}`);
      await prepareStore(name, store);
      const { runner, variables, summary, stdout } = await runTask(name, cases[name](store), nodeVersion);
      expect(runner.errorIssues).toEqual([]);
      expect(runner.succeeded).toBe(true);
      expect(stdout).toMatch(/##vso\[task\.complete result=Succeeded;\]/);
      const step = packagedSteps.find((p) => p.step.name === name)!.step;
      expect(Object.keys(variables).sort()).toEqual(step.outputs.map((o) => camel(o.name)).sort());
      expect(summary).toContain(`### ✅ llmops ${name}`);
    },
    120_000,
  );
});

let azure: DeployEmulators | undefined;

test('the deploy task rolls a flow out to an Azure ML online endpoint from the task folder alone', async () => {
  // In a child process: runAsync blocks this one (spawnSync), so servers here could not answer.
  azure = await DeployEmulators.start({
    cli: path.join(root, 'dist/cli.js'),
    connections: { aoai: { api_key: 'sk-ado-key', api_base: model.url } },
  });
  const dir = path.join(work, 'azure-use-case');
  cpSync(path.join(root, 'examples/web_classification'), dir, { recursive: true });
  mkdirSync(path.join(dir, '.git'));
  appendFileSync(path.join(dir, 'experiment.yaml'), `\n${stringify({ azure: azure.ready.azure })}`);
  const run = await runTask(
    'deploy',
    {
      config: path.join(dir, 'experiment.yaml'),
      env: 'dev',
      target: 'azure-managed',
      location: 'westeurope',
      stateDir: path.join(dir, '.llmops'),
    },
    24,
    { ...azure.ready.env, LLMOPS_CLI: '' },
  );
  expect(run.runner.errorIssues).toEqual([]);
  expect(run.runner.succeeded).toBe(true);
  expect(run.variables).toMatchObject({
    endpoint: `${azure.ready.scoringUrl}/web-classification-dev/score`,
    deploymentName: 'green',
    traffic: '{"green":100}',
  });
  expect(run.summary).toContain('### ✅ llmops deploy');
  expect(run.summary).toContain('Rollout of green to web-classification-dev (azure-managed): ✅ promoted');
  const state = await azure.state();
  expect(state.endpoints['web-classification-dev']).toEqual({
    traffic: { green: 100 },
    deployments: { green: 'Succeeded' },
  });
  // The image ran the serving CLI the task folder ships, copied into the build context.
  expect(state.servedFrom).toEqual([expect.stringMatching(/[\\/]context[\\/]app[\\/]dist[\\/]cli\.js$/)]);
  expect(state.scored.some((s) => s.header && s.deployment === 'green' && s.status === 200)).toBe(true);
  expect(state.specViolations).toEqual([]);
  const shown = run.stdout
    .split('\n')
    .filter((l: string) => !MASK_COMMAND.test(l))
    .join('\n');
  for (const secret of [...state.keys, 'sk-ado-key', azure.ready.env.AZURE_CLIENT_SECRET])
    for (const text of [shown, run.summary]) expect(text).not.toContain(secret);
}, 300_000);
test.each(Object.keys(targetCases))(
  '%s: the task succeeds with its output variables and a summary tab',
  async (name) => {
    const c = targetCases[name];
    const t = await c.start(path.join(work, `store-${name.replace(/\W+/g, '-')}`));
    try {
      const { runner, variables, summary, stdout } = await runTask(c.step, t.inputs, 24, t.env);
      expect(runner.errorIssues).toEqual([]);
      expect(runner.succeeded).toBe(true);
      expect(stdout).toMatch(/##vso\[task\.complete result=Succeeded;\]/);
      const step = packagedSteps.find((p) => p.step.name === c.step)!.step;
      expect(Object.keys(variables).sort()).toEqual(step.outputs.map((o) => camel(o.name)).sort());
      expect(summary).toContain(`### ✅ llmops ${c.step}`);
      expect(summary).toContain('✅ promoted');
    } finally {
      await t.stop();
    }
  },
  300_000,
);
test('deploy --target kubernetes: the example rolled out on the emulated cluster, with its output variables', async () => {
  // An emulated cluster whose pods run the example's image (tests/support/kubernetes), in a process of its own:
  // MockTestRunner blocks this one while the task runs.
  const kube = await startKubeExampleProcess(model.url, 'sk-ado-key');
  try {
    const { runner, variables, summary } = await runTask(
      'deploy',
      {
        config: kube.config,
        env: 'dev',
        target: 'kubernetes',
        kubeconfig: kube.kubeconfig,
        stateDir: path.join(work, 'store-k8s'),
      },
      24,
    );
    expect(runner.errorIssues).toEqual([]);
    expect(runner.succeeded).toBe(true);
    expect(variables.deploymentName).toBe('web-classification-blue');
    expect(JSON.parse(variables.traffic)).toEqual({ 'web-classification-blue': 100 });
    expect(summary).toContain('✅ promoted');
  } finally {
    await kube.stop();
  }
}, 300_000);

test('register-data publishes the dataset versions as an output variable', async () => {
  const { variables } = await runTask('register-data', cases['register-data'](path.join(work, 'store-rd')), 24);
  expect(JSON.parse(variables.datasets).web_classification_train).toMatchObject({
    version: '1',
    rows: 10,
    created: true,
  });
}, 120_000);

test('invalid input: the task fails, with one issue per problem carrying file, line and column', async () => {
  const { runner, stdout, summary } = await runTask('validate', { config: example }, 24, { AOAI_API_BASE: '' });
  expect(runner.succeeded).toBe(false);
  expect(stdout).toMatch(
    /##vso\[task\.logissue type=error;sourcepath=[^;]*experiment\.yaml;linenumber=9;columnnumber=15;\]connections\[0\]\.api_base: environment variable AOAI_API_BASE is (not set|empty)/,
  );
  expect(runner.errorIssues.some((m: string) => m.includes('exit code 2 (invalid input, nothing was run)'))).toBe(true);
  expect(summary).toContain('### ❌ llmops validate failed: exit code 2');
}, 120_000);

test('a secret variable never shows in a log line, an issue, an output variable or the summary', async () => {
  // As if the pipeline passed config: $(llmops.token)/… with llmops.token a secret variable.
  const config = path.join(work, `missing-${SECRET}`, 'experiment.yaml');
  const { runner, stdout, summary } = await runTask('validate', { config }, 24, {}, { 'llmops.token': SECRET });
  expect(runner.succeeded).toBe(false);
  // task-lib itself echoes every input to the debug stream (`config=…`); the agent masks secret
  // variables there, as it does for every log line. Everything else is ours and must be redacted.
  const shown = stdout
    .split('\n')
    .filter((l) => !MASK_COMMAND.test(l) && !l.startsWith('##vso[task.debug]config='))
    .join('\n');
  expect(shown).toMatch(/##vso\[task\.logissue type=error;\].*missing-\*\*\*\/experiment\.yaml: file not found/);
  expect(summary).toContain('missing-***');
  for (const text of [shown, summary]) expect(text).not.toContain(SECRET);
}, 120_000);

test('package:ado builds a .vsix holding every task.json and bundle, each with exactly one task-lib', async () => {
  const { taskLibCopies } = (await import(path.join(root, 'scripts/package-ado.mjs'))) as {
    taskLibCopies: (m: unknown) => string[];
  };
  const listing = execFileSync('unzip', ['-l', path.join(root, vsix)], { encoding: 'utf8' });
  expect(listing).toContain('extension.vsixmanifest');
  expect(listing).toContain('images/icon.png');
  expect(listing).toContain('ado-tasks/overview.md');
  for (const { step } of packagedSteps) {
    expect(listing).toContain(`ado-tasks/${step.name}/task.json`);
    expect(listing).toContain(`ado-tasks/${step.name}/dist/index.js`);
    expect(listing).toContain(`ado-tasks/${step.name}/dist/schemas/experiment.schema.json`);
    const meta = JSON.parse(
      (await import('node:fs')).readFileSync(path.join(root, `dist/ado-meta-${step.name}.json`), 'utf8'),
    );
    // One copy; its path is relative to where node_modules really is (a symlinked install shows as ../…/node_modules).
    expect(taskLibCopies(meta)).toEqual([
      expect.stringMatching(/(^|\/)node_modules\/azure-pipelines-task-lib\/task\.js$/),
    ]);
  }
});

/** deploy to the other targets, each against its emulators in a process of their own (the runner blocks this one). */
interface DeployTargetCase {
  inputs: Record<string, string>;
  env: Record<string, string>;
  check(variables: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

/** A fixture process (tsx): its first stdout line is JSON; `ask` sends a line and reads the next JSON line back. */
async function fixtureProcess(script: string, args: string[]) {
  const child = spawn(path.join(root, 'node_modules/.bin/tsx'), [script, ...args], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const pending: ((line: string) => void)[] = [];
  let buffered = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (text: string) => {
    buffered += text;
    for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
      const line = buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
      pending.shift()?.(line);
    }
  });
  const next = () => new Promise<string>((resolve) => pending.push(resolve));
  const ready = JSON.parse(await next()) as { config: string; env: Record<string, string> };
  return {
    ready,
    ask: async (line: string) => {
      const answer = next();
      child.stdin.write(`${line}\n`);
      return JSON.parse(await answer) as Record<string, unknown>;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.stdin.end();
      }),
  };
}

const deployTargetCases: Record<string, (store: string) => Promise<DeployTargetCase>> = {
  webapp: async (store) => {
    const f = await fixtureProcess('tests/support/azure/webapp-fixture-process.ts', [model.url, 'sk-ado-key']);
    return {
      inputs: {
        config: f.ready.config,
        env: 'dev',
        target: 'webapp',
        stateDir: store,
        tests: path.join(path.dirname(f.ready.config), 'smoke-tests.yaml'),
      },
      env: f.ready.env,
      check: async (variables) => {
        const state = await f.ask('report');
        expect(state.image).toMatch(/^llmopsregistry\.azurecr\.io\/llmops\/web_classification-dev:[0-9a-f]{16}$/);
        expect(variables).toMatchObject({ deploymentName: state.image, traffic: JSON.stringify(state.traffic) });
        expect(state.specViolations).toBe(0);
        expect(state.builds).toEqual(['Succeeded']);
      },
      stop: f.stop,
    };
  },
};

test.each(Object.keys(deployTargetCases))(
  'the deploy task deploys to target %s end to end',
  async (target) => {
    const c = await deployTargetCases[target](path.join(work, `store-deploy-${target}`));
    try {
      const { runner, variables, summary, stdout } = await runTask('deploy', c.inputs, 24, c.env);
      if (!runner.succeeded)
        console.log(
          stdout
            .split('\n')
            .filter((l) => !l.includes('task.debug]'))
            .join('\n'),
        );
      expect(runner.errorIssues).toEqual([]);
      expect(runner.succeeded).toBe(true);
      expect(Object.keys(variables).sort()).toEqual(['deploymentName', 'deployments', 'endpoint', 'traffic']);
      expect(summary).toContain('✅ promoted');
      await c.check(variables);
    } finally {
      await c.stop();
    }
  },
  300_000,
);

/**
 * Every packaged Azure DevOps task, bundled, run through azure-pipelines-task-lib's
 * MockTestRunner (v5: LoadAsync, then runAsync) on examples/web_classification, on the Node 24
 * handler its task.json declares (the only one: our dependencies need Node >= 22). The bundle carries its own task-lib, so the
 * runner runs it unmocked (`run(true)`) and the assertions read the real ##vso commands.
 * The runner would download Node; the test points its download folder at the local binaries.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageVersion } from '../../../src/packaging/generate.js';
import { packagedSteps } from '../../../src/packaging/steps.js';
import { camel } from '../../../src/shared/steps/declare.js';
import { buildOnce } from '../../packaging/build-once.js';
import { MASK_COMMAND } from '../../packaging/capture.js';
import { prepareStore, startExampleModel, stopAll } from '../lifecycle-fixture.js';
import { nodeBinary } from '../../helpers/node-runtimes.js';
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
  deploy: (store) => ({ config: example, env: 'dev', target: 'local', stateDir: store }),
  'smoke-test': (store) => ({
    config: example,
    env: 'dev',
    stateDir: store,
    junitFile: path.join(store, 'smoke.junit.xml'),
  }),
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

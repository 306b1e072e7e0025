/** `deploy --target local`: real background servers, blue/green replace, a failed smoke test keeps the old one. */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  deployLocal,
  loadSmokeTests,
  readState,
  stateFile,
  stopLocalDeployment,
  type SmokeSuite,
} from '../../src/shared/deploy/index.js';
import { ConfigError, exitCodeOf, GateFailed } from '../../src/shared/errors.js';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { deployStep } from '../../src/shared/steps/deploy.js';
import { buildServeCli, deployUseCase } from './helpers.js';
import { makeUseCase } from '../helpers/use-case-dir.js';
import { emptyDeploymentConfig, emptyDeploymentProblems } from '../helpers/placeholder-configs.js';
import { smokeTestStep } from '../../src/shared/steps/smoke-test.js';

let cli: string;
let model: ModelServerHandle;
const uc = deployUseCase({
  'smoke-any.yaml':
    'tests:\n  - name: answers\n    request: {question: hello}\n    expect:\n      values:\n        - {path: $.answer, contains: "user: "}\n',
  'smoke-v1.yaml':
    'tests:\n  - name: answers with v1\n    request: {question: hello}\n    expect:\n      values:\n        - {path: $.answer, matches: "^user: v1 "}\n',
});
const stateDir = path.join(uc.dir, '.llmops');
const config = path.join(uc.dir, 'experiment.yaml');
const saved = { base: process.env.AOAI_API_BASE, key: process.env.AOAI_API_KEY };

beforeAll(async () => {
  cli = buildServeCli();
  model = await startModelServer({});
  // The background server inherits the environment: experiment.yaml's ${api_base}/${api_key} read AOAI_API_*.
  process.env.AOAI_API_BASE = model.url;
  process.env.AOAI_API_KEY = 'sk-test-key-0001';
}, 60_000);
afterAll(async () => {
  await stopLocalDeployment(stateDir, 'demo');
  await model.close();
  process.env.AOAI_API_BASE = saved.base;
  process.env.AOAI_API_KEY = saved.key;
  uc.cleanup();
});

const suite = (file: string): SmokeSuite => loadSmokeTests(path.join(uc.dir, file));
const answer = async (endpoint: string) =>
  ((await (await fetch(endpoint, { method: 'POST', body: '{"question": "hello"}' })).json()) as { answer: string })
    .answer;
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('first deploy, blue/green replace, a failing new deployment leaves the old one serving and the state untouched, stop', async () => {
  const base = { name: 'demo', stateDir, config, command: [process.execPath, cli] };
  // 1. First deploy: v0 comes up, passes its smoke test, is recorded live.
  const first = await deployLocal({ ...base, variants: ['${chat.v0}'], smoke: suite('smoke-any.yaml') });
  expect(first.smoke.passed).toBe(true);
  expect(await answer(first.endpoint)).toBe('user: v0 hello');
  const s1 = readState(stateDir, 'demo')!;
  expect(s1.live).toMatchObject({
    slot: 'blue',
    pid: expect.any(Number),
    port: expect.any(Number),
    variant: { chat: 'v0' },
    flow: 'std',
  });
  expect(first.endpoint).toBe(`http://127.0.0.1:${s1.live.port}/score`);

  // 2. Replace with v1: a new server on another port goes live, the old one is stopped.
  const second = await deployLocal({ ...base, variants: ['${chat.v1}'], smoke: suite('smoke-v1.yaml') });
  const s2 = readState(stateDir, 'demo')!;
  expect(s2.live.slot).toBe('green');
  expect(s2.live.port).not.toBe(s1.live.port);
  expect(s2.previous?.pid).toBe(s1.live.pid);
  expect(alive(s1.live.pid)).toBe(false);
  expect(await answer(second.endpoint)).toBe('user: v1 hello');
  await expect(fetch(first.endpoint, { method: 'POST', body: '{}' })).rejects.toThrow();

  // 3. A new deployment (v0) that fails its smoke test (which wants v1): exit 1, v1 keeps serving, same state bytes.
  const before = readFileSync(stateFile(stateDir, 'demo'), 'utf8');
  const failed = await deployLocal({ ...base, variants: ['${chat.v0}'], smoke: suite('smoke-v1.yaml') }).catch(
    (e: unknown) => e,
  );
  expect(failed).toBeInstanceOf(GateFailed);
  expect(exitCodeOf(failed)).toBe(1);
  expect((failed as GateFailed).message).toContain(`the previous one keeps serving at ${s2.live.url}`);
  expect((failed as GateFailed).failures.join('\n')).toMatch(
    /answers with v1: \$\.answer: expected to match \/\^user: v1 \/, got "user: v0 hello"/,
  );
  expect(readFileSync(stateFile(stateDir, 'demo'), 'utf8')).toBe(before);
  expect(await answer(second.endpoint)).toBe('user: v1 hello');
  const rejectedLog = readFileSync(path.join(stateDir, 'deploy', 'demo-blue.log'), 'utf8');
  const rejectedPid = Number(/"pid":(\d+)/.exec(rejectedLog)?.[1]);
  expect(alive(rejectedPid)).toBe(false);

  // 4. Stop: the live server drains and exits, the state goes.
  expect(await stopLocalDeployment(stateDir, 'demo')).toBe(true);
  expect(alive(s2.live.pid)).toBe(false);
  expect(readState(stateDir, 'demo')).toBeUndefined();
  expect(await stopLocalDeployment(stateDir, 'demo')).toBe(false);
}, 120_000);

test('the deploy step: sample-request smoke test, outputs endpoint and deployment-name, summary; other targets are ConfigErrors', async () => {
  process.env.LLMOPS_CLI = cli;
  try {
    const host = new MemoryHost();
    const out = await deployStep.run({ config, target: 'local', stateDir, variant: '${chat.v1}' }, host);
    expect(out.deploymentName).toBe('demo');
    expect(host.outputs.get('endpoint')).toBe(out.endpoint);
    expect(await answer(out.endpoint)).toBe('user: v1 hello');
    expect(host.summary).toContain('sample request (sample-request.json)');
    expect(host.summary).toContain('✅ passed: 1/1');
    expect(host.lines.map((l) => JSON.stringify(l)).join('\n')).not.toContain('sk-test-key-0001');
  } finally {
    delete process.env.LLMOPS_CLI;
    await stopLocalDeployment(stateDir, 'demo');
  }
  const webapp = await deployStep
    .run({ config, target: 'webapp', stateDir }, new MemoryHost())
    .catch((x: unknown) => x);
  expect(webapp).toBeInstanceOf(ConfigError);
  expect((webapp as ConfigError).message).toContain('found no webapp_endpoint entry');
  // Target kubernetes reads its entry of configs/deployment_config.json, which this use case does not have.
  const k8s = await deployStep
    .run({ config, target: 'kubernetes', stateDir }, new MemoryHost())
    .catch((x: unknown) => x);
  expect(k8s).toBeInstanceOf(ConfigError);
  expect((k8s as ConfigError).message).toContain('found no kubernetes entry');
  // Azure targets read their entry of configs/deployment_config.json, which this use case does not have.
  const azure = await deployStep
    .run({ config, target: 'azure-managed', stateDir }, new MemoryHost())
    .catch((x: unknown) => x);
  expect(azure).toBeInstanceOf(ConfigError);
  expect((azure as ConfigError).message).toContain('found no azure_managed_endpoint entry');
}, 60_000);

test("the template's deployment_config.json with empty Azure names: local deploy and smoke-test run (a warning), an Azure target stops on them", async () => {
  const file = path.join(uc.dir, 'configs', 'deployment_config.json');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, emptyDeploymentConfig);
  process.env.LLMOPS_CLI = cli;
  try {
    const host = new MemoryHost();
    const out = await deployStep.run({ config, target: 'local', stateDir, variant: '${chat.v1}' }, host);
    expect(await answer(out.endpoint)).toBe('user: v1 hello');
    expect(host.lines.filter((l) => l.level === 'warning').map((l) => l.message)).toContainEqual(
      expect.stringContaining('configs/deployment_config.json (9 problems; blocks: deploy, smoke-test)'),
    );
    const smoked = new MemoryHost();
    const junitFile = path.join(uc.dir, 'smoke.junit.xml');
    expect(await smokeTestStep.run({ config, stateDir, junitFile }, smoked)).toMatchObject({ passed: true });
    const azure = await deployStep
      .run({ config, target: 'azure-managed', stateDir }, new MemoryHost())
      .catch((x: unknown) => x);
    expect(azure).toBeInstanceOf(ConfigError);
    expect((azure as ConfigError).problems).toHaveLength(emptyDeploymentProblems.length);
  } finally {
    delete process.env.LLMOPS_CLI;
    rmSync(file);
    await stopLocalDeployment(stateDir, 'demo');
  }
}, 60_000);

test('SIGTERM under load: the served process finishes every in-flight request, then exits 0', async () => {
  const slow = await startModelServer({ latencyMs: 400 });
  writeFileSync(path.join(uc.dir, 'conn.yaml'), `name: aoai\ntype: azure_open_ai\napi_base: ${slow.url}\napi_key: k\n`);
  const child = spawn(
    process.execPath,
    [
      cli,
      'flow',
      'serve',
      path.join(uc.dir, 'flows/std'),
      '--port',
      '0',
      '--connections',
      path.join(uc.dir, 'conn.yaml'),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  try {
    let err = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (b: Buffer) => {
        err += b.toString();
        const m = /"msg":"listening","url":"([^"]+)"/.exec(err);
        if (m) resolve(m[1]);
      });
      child.on('exit', () => reject(new Error(err)));
    });
    const n = 16;
    const requests = Array.from({ length: n }, (_, i) =>
      fetch(`${url}/score`, { method: 'POST', body: JSON.stringify({ question: `q${i}` }) }).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as { answer: string },
      })),
    );
    while (slow.stats().inFlight < n) await new Promise((r) => setTimeout(r, 10));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGTERM');
    const answers = await Promise.all(requests);
    expect(answers.map((a) => a.status)).toEqual(Array(n).fill(200));
    expect(answers.map((a) => a.body.answer)).toEqual(Array.from({ length: n }, (_, i) => `user: v0 q${i}`));
    expect(await exited).toBe(0);
    expect(err).toContain('"msg":"shutting down","signal":"SIGTERM"');
  } finally {
    child.kill('SIGKILL');
    await slow.close();
  }
}, 60_000);

test("a flow whose Python the new server refuses (a module not installed) is the user's to fix: exit 2 with its file and line, not an outside failure", async () => {
  const broken = makeUseCase({
    'flows/std/flow.dag.yaml':
      'inputs:\n  question: {type: string}\noutputs:\n  answer: {type: string, reference: "${shout.output}"}\nnodes:\n- name: shout\n  type: python\n  source: {type: code, path: shout.py}\n  inputs: {text: "${inputs.question}"}\n',
    'flows/std/shout.py':
      'from promptflow.core import tool\nimport no_such_module_anywhere\n\n@tool\ndef shout(text: str) -> str:\n    return text.upper()\n',
    'sample-request.json': '{"question": "hello"}\n',
  });
  try {
    const refused = await deployLocal({
      name: 'refused',
      stateDir: path.join(broken.dir, '.llmops'),
      config: path.join(broken.dir, 'experiment.yaml'),
      command: [process.execPath, cli],
      smoke: loadSmokeTests(path.join(uc.dir, 'smoke-any.yaml')),
    }).catch((x: unknown) => x);
    expect(refused).toBeInstanceOf(ConfigError);
    expect(exitCodeOf(refused)).toBe(2);
    expect((refused as ConfigError).problems).toEqual([
      expect.objectContaining({ line: 2, message: expect.stringContaining('"no_such_module_anywhere"') }),
    ]);
    expect((refused as ConfigError).problems[0].file).toMatch(/shout\.py$/);
    expect(readState(path.join(broken.dir, '.llmops'), 'refused')).toBeUndefined();
  } finally {
    broken.cleanup();
  }
}, 60_000);

describe('deploy --list and --stop', () => {
  const cliBundle = path.resolve('dist/cli.js');
  // Asynchronous: a server this process started is its child, and only a free event loop reaps it once stopped.
  const runCliIn = (env: NodeJS.ProcessEnv, ...args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [cliBundle, 'deploy', ...args], { cwd: uc.dir, env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
  const runCli = (...args: string[]) => runCliIn({ ...process.env, LLMOPS_CLI: cli }, ...args);
  const outputsOf = (stdout: string) =>
    Object.fromEntries(
      stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );

  test('list shows the running deployment with the same outputs on the CLI and in process; stop ends it and removes the record', async () => {
    process.env.LLMOPS_CLI = cli;
    try {
      const deployed = await deployStep.run(
        { config, target: 'local', stateDir, variant: '${chat.v0}' },
        new MemoryHost(),
      );
      const live = readState(stateDir, 'demo')!.live;
      expect(deployed.deployments).toEqual([
        expect.objectContaining({ name: 'demo', status: 'running', endpoint: deployed.endpoint, pid: live.pid }),
      ]);

      const inProcess = new MemoryHost();
      await deployStep.run({ config, target: 'local', stateDir, list: true }, inProcess);
      const listed = await runCli('--list', '--state-dir', stateDir);
      expect(listed.status).toBe(0);
      expect(outputsOf(listed.stdout)).toEqual(Object.fromEntries(inProcess.outputs));
      const deployments = JSON.parse(outputsOf(listed.stdout).deployments);
      expect(deployments).toEqual([
        {
          name: 'demo',
          target: 'local',
          status: 'running',
          endpoint: deployed.endpoint,
          slot: 'blue',
          pid: live.pid,
          flow: 'std',
          variant: { chat: 'v0' },
          startedAt: live.startedAt,
          logFile: live.logFile,
        },
      ]);
      expect(listed.stderr).toContain(`demo  running  ${deployed.endpoint}  pid ${live.pid} (blue)`);
      expect(inProcess.summary).toContain('| name | status | endpoint | pid | slot | since |');

      const stopped = await runCli('--stop', '--config', 'experiment.yaml', '--state-dir', stateDir);
      expect(stopped.stderr).toContain(`stopped demo (pid ${live.pid}, ${deployed.endpoint}); record removed`);
      expect(stopped.status).toBe(0);
      expect(outputsOf(stopped.stdout)).toEqual({
        endpoint: '',
        'deployment-name': 'demo',
        deployments: '[]',
        traffic: '',
      });
      expect(alive(live.pid)).toBe(false);
      expect(readState(stateDir, 'demo')).toBeUndefined();

      const empty = await runCli('--list', '--state-dir', stateDir);
      expect(empty.stderr).toContain(`no local deployments recorded under ${stateDir}`);
      expect(outputsOf(empty.stdout).deployments).toBe('[]');
    } finally {
      delete process.env.LLMOPS_CLI;
      await stopLocalDeployment(stateDir, 'demo');
    }
  }, 120_000);

  test('a record whose PID now belongs to another process is listed as stopped, and stop never signals that process', async () => {
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      const state = {
        name: 'ghost',
        target: 'local',
        updatedAt: new Date().toISOString(),
        live: {
          slot: 'green',
          pid: other.pid,
          port: 1,
          url: 'http://127.0.0.1:1',
          flow: 'std',
          variant: {},
          startedAt: new Date().toISOString(),
          logFile: 'x.log',
        },
      };
      writeFileSync(stateFile(stateDir, 'ghost'), JSON.stringify(state));
      const listed = await runCli('--list', '--state-dir', stateDir);
      expect(JSON.parse(outputsOf(listed.stdout).deployments)).toEqual([
        expect.objectContaining({ name: 'ghost', status: 'stopped', pid: other.pid }),
      ]);
      const stopped = await runCli('--stop', '--name', 'ghost', '--state-dir', stateDir);
      expect(stopped.status).toBe(0);
      expect(stopped.stderr).toContain('stopped ghost (its server had already exited); record removed');
      expect(alive(other.pid!)).toBe(true);
    } finally {
      other.kill('SIGKILL');
    }
  });

  test("stop --config needs only the use case's name and env: not the flow's secrets, not deployment_config.json", async () => {
    // A record whose server has exited: stop removes it without signalling anything.
    const live = { slot: 'blue', pid: 999_999_999, port: 1, url: 'http://127.0.0.1:1', flow: 'std', variant: {} };
    const record = { name: 'demo', target: 'local', updatedAt: new Date().toISOString(), live };
    mkdirSync(path.dirname(stateFile(stateDir, 'demo')), { recursive: true });
    writeFileSync(stateFile(stateDir, 'demo'), JSON.stringify({ ...record, live: { ...live, logFile: 'x.log' } }));
    const deploymentConfig = path.join(uc.dir, 'configs', 'deployment_config.json');
    mkdirSync(path.dirname(deploymentConfig), { recursive: true });
    // The template's shape, its names still empty: it blocks a deploy, never a stop.
    writeFileSync(deploymentConfig, '{"azure_managed_endpoint": [{"ENV_NAME": "dev", "ENDPOINT_NAME": ""}]}\n');
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, LLMOPS_CLI: cli };
      delete env.AOAI_API_KEY;
      delete env.AOAI_API_BASE;
      const stopped = await runCliIn(env, '--stop', '--config', 'experiment.yaml', '--state-dir', stateDir);
      expect(stopped.stderr).toContain('stopped demo (its server had already exited); record removed');
      expect(stopped.status).toBe(0);
      expect(readState(stateDir, 'demo')).toBeUndefined();
    } finally {
      rmSync(deploymentConfig);
    }
  });

  test('stop of an unknown deployment, list with stop, or a name without stop: exit 2 naming what was expected', async () => {
    const unknown = await runCli('--stop', '--name', 'nope', '--state-dir', stateDir);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('found no local deployment named nope');
    expect((await runCli('--list', '--stop', '--state-dir', stateDir)).stderr).toContain(
      'found both list and stop; expected one of them',
    );
    expect((await runCli('--name', 'demo', '--state-dir', stateDir)).status).toBe(2);
    writeFileSync(stateFile(stateDir, 'broken'), '{"name": "broken", ');
    try {
      const broken = await runCli('--list', '--state-dir', stateDir);
      expect(broken.status).toBe(2);
      expect(broken.stderr).toContain(`${stateFile(stateDir, 'broken')}: error: found `);
      expect(broken.stderr).toContain('expected a deployment record written by llmops deploy');
    } finally {
      rmSync(stateFile(stateDir, 'broken'));
    }
  });
});

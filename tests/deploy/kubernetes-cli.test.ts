/**
 * `llmops deploy --target kubernetes` on the web_classification example, as CI runs it: the bundled CLI in a
 * child process, the cluster named by --kubeconfig (the emulator's: HTTPS with its own CA), the image built the
 * way a user builds it (`llmops flow build-context`, then the registry reference mapped to that folder), pods
 * running it for real, the Gateway routing the example's own smoke tests. First deploy, smoke-test, a changed
 * variant rolled out, dry run, rollback, and a bad entry refused with file, line and column.
 */
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { runCli } from '../support/azure/cli.js';
import { KubeCluster } from '../support/kubernetes/cluster.js';

const LLM_KEY = 'sk-web-class-kube-0077';

let cluster: KubeCluster;
let model: ModelServerHandle;
let dir: string;
const images = new Map<string, string>();

function outputsOf(stdout: string): Record<string, string> {
  return Object.fromEntries(
    stdout
      .split('\n')
      .map((l) => /^([a-z-]+)=(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[2]]),
  );
}

const env = () => ({ AOAI_API_BASE: model.url, AOAI_API_KEY: LLM_KEY });

function writeEntry(extra: Record<string, unknown> = {}) {
  const file = path.join(dir, 'configs', 'deployment_config.json');
  const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  config.kubernetes = [
    {
      ENV_NAME: 'dev',
      NAME: 'web-classification',
      NAMESPACE: 'flows',
      GATEWAY_NAME: 'public',
      GATEWAY_NAMESPACE: 'infra',
      IMAGE: 'registry.example/web-classification:v0',
      REPLICAS: 1,
      CPU_REQUEST: '500m',
      MEMORY_LIMIT: '1Gi',
      ROLLOUT_TIMEOUT_SECONDS: 60,
      ...extra,
    },
  ];
  writeFileSync(file, JSON.stringify(config, null, 2) + '\n');
}

beforeAll(async () => {
  model = await startModelServer({ rules: 'examples/web_classification/model-rules.yaml' });
  dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-web-kube-'));
  cpSync('examples/web_classification', dir, { recursive: true });
  mkdirSync(path.join(dir, '.git'));
  // The use case redacts email addresses: its deployments must redact them too.
  appendFileSync(path.join(dir, 'experiment.yaml'), '\nredaction:\n  kinds: [email]\n');
  // The images, built as a user builds them: the build context of each variant (docker build + push follow).
  for (const [tag, variant] of [
    ['v0', []],
    ['v1', ['--variant', '${summarize_text_content.variant_1}']],
  ] as const) {
    const r = await runCli(
      ['flow', 'build-context', '--config', 'experiment.yaml', '--env', 'dev', '--output', `ctx-${tag}`, ...variant],
      { cwd: dir, env: env() },
    );
    expect({ status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ status: 0, stderr: '' });
    images.set(`registry.example/web-classification:${tag}`, path.join(dir, `ctx-${tag}`));
  }
  cluster = await KubeCluster.start({ images, env: { PATH: `${path.dirname(process.execPath)}:${process.env.PATH}` } });
  cluster.createGateway('infra', 'public');
  writeEntry();
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  await model?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function cli(...args: string[]) {
  const r = await runCli([...args, '--config', 'experiment.yaml', '--env', 'dev', '--kubeconfig', cluster.kubeconfig], {
    cwd: dir,
    env: env(),
  });
  return { ...r, outputs: outputsOf(r.stdout) };
}

test('deploy, smoke-test, a new variant rolled out in stages, dry run, rollback', async () => {
  const first = await cli('deploy', '--target', 'kubernetes', '--tests', 'smoke-tests.yaml');
  expect({ status: first.status, stderr: first.status === 0 ? '' : first.stderr }).toEqual({ status: 0, stderr: '' });
  expect(first.outputs.endpoint).toBe(`${cluster.gateway.url}/score`);
  expect(first.outputs['deployment-name']).toBe('web-classification-blue');
  expect(JSON.parse(first.outputs.traffic)).toEqual({ 'web-classification-blue': 100 });
  expect(first.stdout + first.stderr).not.toContain(LLM_KEY);
  const pod = cluster.get('Deployment', 'flows', 'web-classification-blue')!.spec as {
    template: { spec: { containers: { env?: { name: string; value?: string }[] }[] } };
  };
  expect(pod.template.spec.containers[0].env).toContainEqual({ name: 'LLMOPS_REDACT_PII', value: 'email' });

  const smoke = await cli('smoke-test', '--target', 'kubernetes', '--tests', 'smoke-tests.yaml');
  expect({ status: smoke.status, stderr: smoke.status === 0 ? '' : smoke.stderr }).toEqual({ status: 0, stderr: '' });
  expect(smoke.outputs.passed).toBe('true');

  const next = await cli(
    'deploy',
    '--target',
    'kubernetes',
    '--image',
    'registry.example/web-classification:v1',
    '--traffic-steps',
    '25',
    '--tests',
    'smoke-tests.yaml',
  );
  expect({ status: next.status, stderr: next.status === 0 ? '' : next.stderr }).toEqual({ status: 0, stderr: '' });
  expect(JSON.parse(next.outputs.traffic)).toEqual({ 'web-classification-green': 100 });
  expect(next.stderr + next.stdout).toContain(
    'shifting traffic: web-classification-blue 75%, web-classification-green 25%',
  );
  // The old colour alone, through its header.
  const blue = await cli('smoke-test', '--target', 'kubernetes', '--deployment', 'blue', '--tests', 'smoke-tests.yaml');
  expect(blue.status).toBe(0);

  const dry = await cli('deploy', '--target', 'kubernetes', '--dry-run');
  expect(dry.status).toBe(0);
  expect(dry.stderr + dry.stdout).toContain(
    'rollout of web-classification-blue to HTTPRoute flows/web-classification (kubernetes)',
  );

  const back = await cli('deploy', '--target', 'kubernetes', '--rollback');
  expect({ status: back.status, stderr: back.status === 0 ? '' : back.stderr }).toEqual({ status: 0, stderr: '' });
  expect(JSON.parse(back.outputs.traffic)).toEqual({ 'web-classification-blue': 100 });
}, 180_000);

test('a bad entry is refused before anything is called: exit 2 with file, line and column', async () => {
  writeEntry({ NAMESPACE: 'Flows_Prod' });
  const before = cluster.api.requests.length;
  const r = await cli('deploy', '--target', 'kubernetes');
  writeEntry();
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/deployment_config\.json:\d+:\d+.*NAMESPACE.*lowercase DNS label/);
  expect(cluster.api.requests.length).toBe(before);
});

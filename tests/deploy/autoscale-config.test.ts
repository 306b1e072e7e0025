/**
 * The AUTOSCALE block of deployment_config.json: one shape on four targets, every mistake (and every rule a
 * target cannot carry out) reported at its file:line:column with what was found and what was expected, before
 * anything is deployed; a good block typed with its defaults.
 */
import { containerAppEntry, kubernetesEntry } from '../../src/shared/config/deployment.js';
import { autoscaleOf, describeAutoscale } from '../../src/shared/config/autoscale.js';
import { loadUseCase } from '../../src/shared/config/use-case.js';
import { ConfigError, formatProblem } from '../../src/shared/errors.js';
import { baseEnv, makeUseCase } from '../helpers/use-case-dir.js';

const base: Record<string, Record<string, unknown>> = {
  azure_managed_endpoint: {
    ENV_NAME: 'dev',
    ENDPOINT_NAME: 'demo-ep',
    CURRENT_DEPLOYMENT_NAME: 'blue',
    DEPLOYMENT_VM_SIZE: 'Standard_F4s_v2',
  },
  webapp_endpoint: {
    ENV_NAME: 'dev',
    REGISTRY_NAME: 'acrllmops',
    WEB_APP_NAME: 'demo-app',
    WEB_APP_RG_NAME: 'rg',
    APP_PLAN_NAME: 'plan',
  },
  kubernetes: { ENV_NAME: 'dev', NAME: 'demo', NAMESPACE: 'flows', GATEWAY_NAME: 'public', CPU_REQUEST: '250m' },
  container_app_endpoint: { ENV_NAME: 'dev', CONTAINER_APP_NAME: 'demo-app', ENVIRONMENT_NAME: 'cae' },
};

function problems(array: string, autoscale: unknown, extra: Record<string, unknown> = {}): string[] {
  const uc = makeUseCase({
    'configs/deployment_config.json':
      JSON.stringify({ [array]: [{ ...base[array], ...extra, AUTOSCALE: autoscale }] }, null, 2) + '\n',
  });
  try {
    loadUseCase({ configPath: 'experiment.yaml', cwd: uc.dir, processEnv: baseEnv });
    return [];
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    expect(e.exitCode).toBe(2);
    return e.problems.map(formatProblem);
  } finally {
    uc.cleanup();
  }
}

test.each(Object.keys(base))('%s: a good block passes', (array) => {
  const good: Record<string, Record<string, number>> = {
    azure_managed_endpoint: { MIN_INSTANCES: 2, MAX_INSTANCES: 5, CPU_PERCENT: 70, REQUESTS_PER_MINUTE: 600 },
    webapp_endpoint: { MAX_INSTANCES: 5, CPU_PERCENT: 70, SCALE_IN_COOLDOWN_SECONDS: 600 },
    kubernetes: { MIN_INSTANCES: 2, MAX_INSTANCES: 5, CPU_PERCENT: 70, SCALE_OUT_COOLDOWN_SECONDS: 0 },
    container_app_endpoint: { MIN_INSTANCES: 0, MAX_INSTANCES: 5, CONCURRENT_REQUESTS: 10 },
  };
  expect(problems(array, good[array])).toEqual([]);
});

test.each<[string, string, unknown, string, Record<string, unknown>?]>([
  ['no MAX_INSTANCES', 'kubernetes', { CPU_PERCENT: 50 }, '.AUTOSCALE: missing required key "MAX_INSTANCES"'],
  [
    'an unknown field',
    'webapp_endpoint',
    { MAX_INSTANCES: 3, CPU_PERCENT: 50, CPU: 5 },
    '.AUTOSCALE.CPU: unknown key "CPU"; expected one of: MIN_INSTANCES, MAX_INSTANCES',
  ],
  [
    'a percentage over 100',
    'azure_managed_endpoint',
    { MAX_INSTANCES: 3, CPU_PERCENT: 120 },
    '.AUTOSCALE.CPU_PERCENT: found the number 120, expected a whole percentage from 1 to 100',
  ],
  [
    'no rule',
    'azure_managed_endpoint',
    { MAX_INSTANCES: 3 },
    '.AUTOSCALE: found no scale rule; expected at least one of CPU_PERCENT, REQUESTS_PER_MINUTE, CONCURRENT_REQUESTS',
  ],
  [
    'min above max',
    'webapp_endpoint',
    { MIN_INSTANCES: 4, MAX_INSTANCES: 3, CPU_PERCENT: 50 },
    '.AUTOSCALE.MAX_INSTANCES: 3 is below MIN_INSTANCES 4; expected at least 4',
  ],
  [
    'zero instances outside Container Apps',
    'kubernetes',
    { MIN_INSTANCES: 0, MAX_INSTANCES: 3, CPU_PERCENT: 50 },
    '.AUTOSCALE.MIN_INSTANCES: 0; expected at least 1 (only container_app_endpoint scales to zero)',
  ],
  [
    'concurrency on Azure ML',
    'azure_managed_endpoint',
    { MAX_INSTANCES: 3, CONCURRENT_REQUESTS: 5 },
    '.AUTOSCALE.CONCURRENT_REQUESTS: azure_managed_endpoint cannot express it: Azure Monitor has no in-flight request metric',
  ],
  [
    'concurrency on App Service',
    'webapp_endpoint',
    { MAX_INSTANCES: 3, CONCURRENT_REQUESTS: 5 },
    '.AUTOSCALE.CONCURRENT_REQUESTS: webapp_endpoint cannot express it',
  ],
  [
    'a request rate on Kubernetes',
    'kubernetes',
    { MAX_INSTANCES: 3, REQUESTS_PER_MINUTE: 100 },
    '.AUTOSCALE.REQUESTS_PER_MINUTE: kubernetes cannot express it: a HorizontalPodAutoscaler needs a custom metrics adapter',
  ],
  [
    'a request rate on Container Apps',
    'container_app_endpoint',
    { MAX_INSTANCES: 3, REQUESTS_PER_MINUTE: 100 },
    '.AUTOSCALE.REQUESTS_PER_MINUTE: container_app_endpoint cannot express it: Container Apps HTTP scale rules count concurrent requests',
  ],
  [
    'a scale-out cooldown on Container Apps',
    'container_app_endpoint',
    { MAX_INSTANCES: 3, CPU_PERCENT: 50, SCALE_OUT_COOLDOWN_SECONDS: 60 },
    '.AUTOSCALE.SCALE_OUT_COOLDOWN_SECONDS: container_app_endpoint cannot express it',
  ],
  [
    'a default count on Kubernetes',
    'kubernetes',
    { MAX_INSTANCES: 3, CPU_PERCENT: 50, DEFAULT_INSTANCES: 2 },
    '.AUTOSCALE.DEFAULT_INSTANCES: kubernetes cannot express it',
  ],
  [
    'a default count outside the bounds',
    'azure_managed_endpoint',
    { MIN_INSTANCES: 2, MAX_INSTANCES: 3, CPU_PERCENT: 50, DEFAULT_INSTANCES: 5 },
    '.AUTOSCALE.DEFAULT_INSTANCES: 5 is outside MIN_INSTANCES..MAX_INSTANCES (2..3)',
  ],
  [
    'an Azure cooldown under a minute',
    'webapp_endpoint',
    { MAX_INSTANCES: 3, CPU_PERCENT: 50, SCALE_OUT_COOLDOWN_SECONDS: 30 },
    '.AUTOSCALE.SCALE_OUT_COOLDOWN_SECONDS: 30; expected at least 60',
  ],
  [
    'CPU on Kubernetes without a CPU request',
    'kubernetes',
    { MAX_INSTANCES: 3, CPU_PERCENT: 50 },
    '.AUTOSCALE.CPU_PERCENT: found no CPU_REQUEST in the entry; expected one',
    { CPU_REQUEST: undefined },
  ],
  [
    'REPLICAS beside AUTOSCALE',
    'kubernetes',
    { MAX_INSTANCES: 3, CPU_PERCENT: 50 },
    ': found both REPLICAS and AUTOSCALE; expected one of them',
    { REPLICAS: 2 },
  ],
  [
    'MIN_REPLICAS beside AUTOSCALE',
    'container_app_endpoint',
    { MAX_INSTANCES: 3, CPU_PERCENT: 50 },
    ': found both MIN_REPLICAS and AUTOSCALE; expected one of them',
    { MIN_REPLICAS: 1 },
  ],
  // A rest parameter: rows without `extra` must not make Jest take a fifth parameter for a done callback.
])('%s', (...[, array, block, message, extra]) => {
  const found = problems(array, block, extra);
  expect(found.length).toBeGreaterThan(0);
  const prefix = new RegExp(`^configs/deployment_config\\.json:\\d+:\\d+: ${array}\\[0\\]`);
  expect(found.filter((p) => prefix.test(p) && p.includes(message))).toHaveLength(1);
});

test('the problem points at the offending field', () => {
  const [p] = problems('kubernetes', { MAX_INSTANCES: 3, CONCURRENT_REQUESTS: 5, CPU_PERCENT: 40 });
  // Line 11 of the file JSON.stringify writes: the CONCURRENT_REQUESTS key inside AUTOSCALE, value at column 32.
  expect(p).toMatch(/^configs\/deployment_config\.json:11:32: kubernetes\[0\]\.AUTOSCALE\.CONCURRENT_REQUESTS/);
});

test('a block is typed with its defaults; the entry takes its replica bounds from it', () => {
  const a = autoscaleOf({ AUTOSCALE: { MAX_INSTANCES: 4, CPU_PERCENT: 70 } })!;
  expect(a).toEqual({
    minInstances: 1,
    maxInstances: 4,
    defaultInstances: 1,
    cpuPercent: 70,
    requestsPerMinute: undefined,
    concurrentRequests: undefined,
    scaleOutCooldownSeconds: undefined,
    scaleInCooldownSeconds: undefined,
  });
  expect(describeAutoscale(a)).toBe('autoscale 1..4 instances: CPU > 70%');
  const block = { MIN_INSTANCES: 2, MAX_INSTANCES: 9, CPU_PERCENT: 70 };
  expect(kubernetesEntry({ kubernetes: [{ ...base.kubernetes, AUTOSCALE: block }] }, 'dev', 'f').replicas).toBe(2);
  const aca = containerAppEntry(
    { container_app_endpoint: [{ ...base.container_app_endpoint, AUTOSCALE: block }] },
    'dev',
    'f',
  );
  expect([aca.minReplicas, aca.maxReplicas]).toEqual([2, 9]);
});

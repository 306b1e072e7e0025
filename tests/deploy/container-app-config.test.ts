/**
 * The `container_app_endpoint` array of deployment_config.json: every mistake reported at its file:line:column
 * with what was found and what was expected, before anything talks to Azure; a good entry typed with its
 * defaults.
 */
import { containerAppEntry } from '../../src/shared/config/deployment.js';
import { loadUseCase } from '../../src/shared/config/use-case.js';
import { ConfigError, formatProblem } from '../../src/shared/errors.js';
import { baseEnv, makeUseCase } from '../helpers/use-case-dir.js';

const good: Record<string, unknown> = {
  ENV_NAME: 'dev',
  CONTAINER_APP_NAME: 'demo-app',
  ENVIRONMENT_NAME: 'cae-llmops',
};

function problems(entry: Record<string, unknown>): string[] {
  const uc = makeUseCase({
    'configs/deployment_config.json': JSON.stringify({ container_app_endpoint: [entry] }, null, 2) + '\n',
  });
  try {
    loadUseCase({ configPath: 'experiment.yaml', cwd: uc.dir, processEnv: baseEnv });
    return [];
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.problems.map(formatProblem);
  } finally {
    uc.cleanup();
  }
}

test.each<[string, Record<string, unknown>, string]>([
  [
    'an app name with capitals',
    { ...good, CONTAINER_APP_NAME: 'Demo_App' },
    'configs/deployment_config.json:5:29: container_app_endpoint[0].CONTAINER_APP_NAME: found the text "Demo_App", expected a container app name of 2-32 lower-case letters',
  ],
  [
    'no managed environment',
    { ENV_NAME: 'dev', CONTAINER_APP_NAME: 'demo-app' },
    'configs/deployment_config.json:3:5: container_app_endpoint[0]: found neither ENVIRONMENT_ID nor ENVIRONMENT_NAME; expected the managed environment the app runs in',
  ],
  [
    'both environment id and name',
    {
      ...good,
      ENVIRONMENT_ID: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/managedEnvironments/cae',
    },
    'configs/deployment_config.json:6:27: container_app_endpoint[0]: found both ENVIRONMENT_ID and ENVIRONMENT_NAME; expected one of them',
  ],
  [
    'an environment id of another resource type',
    { ENV_NAME: 'dev', CONTAINER_APP_NAME: 'demo-app', ENVIRONMENT_ID: '/subscriptions/s/resourceGroups/rg/x' },
    'configs/deployment_config.json:6:25: container_app_endpoint[0].ENVIRONMENT_ID: found the text "/subscriptions/s/resourceGroups/rg/x", expected the ARM id of a managed environment',
  ],
  [
    'more min than max replicas',
    { ...good, MIN_REPLICAS: 3, MAX_REPLICAS: 2 },
    'configs/deployment_config.json:8:23: container_app_endpoint[0].MAX_REPLICAS: 2 is below MIN_REPLICAS 3; expected at least MIN_REPLICAS',
  ],
  [
    'a secret value instead of a Key Vault URL',
    { ...good, SECRETS: { 'aoai-key': 'sk-live-123' } },
    "configs/deployment_config.json:8:21: container_app_endpoint[0].SECRETS.aoai-key: found a value that does not match (not shown: it may be a secret), expected a Key Vault secret URL such as https://<vault>.vault.azure.net/secrets/<name> (never the secret's value)",
  ],
  [
    'a secret environment variable naming an unknown secret',
    {
      ...good,
      SECRETS: { 'aoai-key': 'https://kv.vault.azure.net/secrets/k' },
      SECRET_ENVIRONMENT_VARIABLES: { AOAI_API_KEY: 'other' },
    },
    'configs/deployment_config.json:11:25: container_app_endpoint[0].SECRET_ENVIRONMENT_VARIABLES.AOAI_API_KEY: secret "other" is not in SECRETS; expected one of: aoai-key',
  ],
  [
    'an unknown revision suffix policy',
    { ...good, REVISION_SUFFIX: 'random' },
    'configs/deployment_config.json:7:26: container_app_endpoint[0].REVISION_SUFFIX: found the text "random", expected one of: content-hash, unique',
  ],
])('%s', (_name, entry, expected) => {
  const found = problems(entry);
  expect(found).toHaveLength(1);
  expect(found[0].slice(0, expected.length)).toBe(expected);
  expect(found[0]).not.toContain('sk-live-123');
});

test('a good entry is typed with its defaults; a missing entry for the env names what exists', () => {
  expect(problems(good)).toEqual([]);
  const entry = containerAppEntry({ container_app_endpoint: [good] }, 'dev', 'deployment_config.json');
  expect(entry).toMatchObject({
    appName: 'demo-app',
    environmentName: 'cae-llmops',
    cpu: 0.5,
    memory: '1Gi',
    minReplicas: 1,
    maxReplicas: 3,
    targetPort: 8080,
    currentTraffic: 100,
    revisionSuffix: 'content-hash',
    secrets: {},
    secretEnvironmentVariables: {},
  });
  expect(() => containerAppEntry({ container_app_endpoint: [good] }, 'prod', 'deployment_config.json')).toThrow(
    'found no container_app_endpoint entry for ENV_NAME prod; expected one (entries: dev)',
  );
});

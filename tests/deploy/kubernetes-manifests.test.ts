/**
 * The Kubernetes target's manifests on their own: for any valid entry, traffic map and variables they pass the
 * API's schemas (kubernetes-models' validate), secret values never appear outside the Secret, and the weighted
 * route reads back as the map written. Colour choice and the entry's defaults and errors.
 */
import fc from 'fast-check';
import { checkDeployment, kubernetesEntry } from '../../src/shared/config/deployment.js';
import { parseJson } from '../../src/shared/source.js';
import { ConfigError } from '../../src/shared/errors.js';
import { containerVariables, pickColour } from '../../src/shared/deploy/kubernetes-deploy.js';
import {
  coloursRouteManifest,
  configHash,
  deploymentManifest,
  mirrorOf,
  secretManifest,
  serviceManifest,
  trafficOf,
  trafficRouteManifest,
} from '../../src/shared/deploy/kubernetes-manifests.js';
import { withShare } from '../../src/shared/deploy/rollout.js';

const FILE = 'configs/deployment_config.json';
const entryOf = (extra: Record<string, unknown> = {}) =>
  kubernetesEntry(
    { kubernetes: [{ ENV_NAME: 'dev', NAME: 'web', NAMESPACE: 'flows', GATEWAY_NAME: 'public', ...extra }] },
    'dev',
    FILE,
  );

test('entry defaults: gateway in the entry namespace, 1 replica, port 8080, 300 s, full traffic; a missing env is an error', () => {
  const e = entryOf({ URL: 'https://flows.example.com/', CPU_REQUEST: '250m', MEMORY_LIMIT: '1Gi' });
  expect(e).toMatchObject({
    gateway: { name: 'public', namespace: 'flows' },
    replicas: 1,
    containerPort: 8080,
    rolloutTimeoutSeconds: 300,
    currentTraffic: 100,
    url: 'https://flows.example.com',
    resources: { requests: { cpu: '250m' }, limits: { memory: '1Gi' } },
  });
  expect(() => kubernetesEntry({ kubernetes: [] }, 'prod', FILE)).toThrow(ConfigError);
  expect(() => kubernetesEntry(undefined, 'prod', FILE)).toThrow(/found no kubernetes entry for ENV_NAME prod/);
});

test('property: manifests pass the API schemas, secrets stay in the Secret, the route reads back as written', () => {
  const name = fc.stringMatching(/^[a-z]([-a-z0-9]{0,20}[a-z0-9])?$/);
  const varName = fc.stringMatching(/^[A-Z][A-Z0-9_]{0,12}$/);
  fc.assert(
    fc.property(
      name,
      fc.integer({ min: 1, max: 20 }),
      fc.dictionary(varName, fc.string({ minLength: 1, maxLength: 20 }), { maxKeys: 4 }),
      fc.stringMatching(/^[A-Za-z0-9]{12,30}$/),
      fc.option(fc.constantFrom('app.example.com', '*.example.com'), { nil: undefined }),
      fc.integer({ min: 1, max: 99 }),
      (n, replicas, plain, secret, host, share) => {
        const entry = entryOf({ NAME: n, REPLICAS: replicas, ...(host ? { HOST: host } : {}) });
        const vars = containerVariables({
          entry: { ...entry, environmentVariables: plain },
          connections: [
            {
              name: 'aoai',
              type: 'AzureOpenAIConnection',
              value: { api_key: secret, api_base: 'http://x' },
              secretKeys: ['api_key'],
            },
          ],
          envYaml: { TOKEN: `t-${secret}` },
          secrets: [secret, `t-${secret}`],
        } as never);
        expect(vars.secretEnv).toEqual({ AOAI_API_KEY: secret, TOKEN: `t-${secret}` });
        const container = { image: 'registry.example/flow:1', ...vars };
        const d = deploymentManifest(entry, 'green', container, '2026-01-01T00:00:00Z');
        const s = serviceManifest(entry, 'green');
        const traffic = withShare({ [`${n}-blue`]: 100 }, `${n}-green`, share);
        const route = trafficRouteManifest(entry, traffic, '42');
        const colours = coloursRouteManifest(entry, ['blue', 'green']);
        const text = JSON.stringify([d, s, route, colours]);
        expect(text).not.toContain(secret);
        expect(JSON.stringify(secretManifest(entry, 'green', vars.secretEnv))).toContain(secret);
        expect(trafficOf(JSON.parse(JSON.stringify(route)))).toEqual(traffic);
        expect(configHash(entry, container)).not.toBe(
          configHash(entry, { ...container, image: 'registry.example/flow:2' }),
        );
      },
    ),
    { numRuns: 60 },
  );
});

test('mirror: a RequestMirror filter per mirrored Service on the weighted rule, validated, read back; none without', () => {
  const entry = entryOf({ MIRROR_TRAFFIC_PERCENT: '20' });
  expect(entry.mirrorPercent).toBe(20);
  const route = trafficRouteManifest(entry, { 'web-blue': 100 }, '7', { 'web-green': 20 });
  const rule = (route.spec as { rules: { filters?: unknown[] }[] }).rules[0];
  expect(rule.filters).toEqual([
    {
      type: 'RequestMirror',
      requestMirror: { backendRef: { group: '', kind: 'Service', name: 'web-green', port: 80 }, percent: 20 },
    },
  ]);
  const back = JSON.parse(JSON.stringify(route)) as never;
  expect([trafficOf(back), mirrorOf(back)]).toEqual([{ 'web-blue': 100 }, { 'web-green': 20 }]);
  const plain = trafficRouteManifest(entry, { 'web-blue': 100 }, '8', { 'web-green': 0 });
  expect((plain.spec as { rules: { filters?: unknown[] }[] }).rules[0].filters).toBeUndefined();
  // A filter written by hand with a fraction, or with neither (every request, per the Gateway API).
  const byHand = (requestMirror: Record<string, unknown>) => ({
    spec: {
      rules: [{ filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'x' }, ...requestMirror } }] }],
    },
  });
  expect(mirrorOf(byHand({ fraction: { numerator: 1, denominator: 4 } }))).toEqual({ x: 25 });
  expect(mirrorOf(byHand({}))).toEqual({ x: 100 });
  expect(() => trafficRouteManifest(entry, { 'web-blue': 100 }, '9', { 'web-green': 101 })).toThrow();
});

test('MIRROR_TRAFFIC_PERCENT on a kubernetes entry above 50 is refused with file, line and column', () => {
  const text = JSON.stringify(
    {
      kubernetes: [
        { ENV_NAME: 'dev', NAME: 'web', NAMESPACE: 'flows', GATEWAY_NAME: 'public', MIRROR_TRAFFIC_PERCENT: 60 },
      ],
    },
    null,
    2,
  );
  const { source } = parseJson(FILE, text);
  const problems: Parameters<typeof checkDeployment>[2] = [];
  checkDeployment(source!, '.', problems, (p) => p);
  expect(problems).toEqual([
    expect.objectContaining({ file: FILE, line: 8, message: expect.stringMatching(/MIRROR_TRAFFIC_PERCENT.*1 to 50/) }),
  ]);
});

test('colour: the one serving nothing, a new one first; both serving is a config error naming the way out', () => {
  const e = entryOf();
  expect(pickColour(e, [], {})).toBe('blue');
  expect(pickColour(e, ['web-blue'], { 'web-blue': 100 })).toBe('green');
  expect(pickColour(e, ['web-blue', 'web-green'], { 'web-green': 100 })).toBe('blue');
  expect(() => pickColour(e, ['web-blue', 'web-green'], { 'web-blue': 90, 'web-green': 10 })).toThrow(
    /both web-blue and web-green serve traffic/,
  );
});

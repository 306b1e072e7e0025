/**
 * The objects `deploy --target kubernetes` applies, built with kubernetes-models / @kubernetes-models/gateway-api
 * (the API's own schemas) and validated before anything is sent: per colour (blue/green) a Deployment, a
 * Service and a Secret holding that colour's secret variables (referenced with `secretKeyRef`, never inline);
 * one HTTPRoute carrying the weighted `backendRefs` (the live traffic), and one carrying a header match per
 * colour (`x-llmops-colour: green`) so a colour can be reached alone through the same Gateway before it has
 * any weight. Two routes, so that making a colour reachable never changes the weighted route's
 * resourceVersion, which guards the traffic writes against concurrent edits.
 * @module
 */
import { createHash } from 'node:crypto';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Secret, Service } from 'kubernetes-models/v1';
import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1';
import type { KubernetesEntry } from '../config/deployment.js';
import type { TrafficMap } from './rollout.js';

export const COLOURS = ['blue', 'green'] as const;
export type Colour = (typeof COLOURS)[number];
/** The header that reaches one colour alone through the Gateway (smoke tests, `smoke-test --deployment`). */
export const COLOUR_HEADER = 'x-llmops-colour';
export const FIELD_MANAGER = 'llmops';
const APP = 'app.kubernetes.io/name';
const MANAGED_BY = 'app.kubernetes.io/managed-by';
const COLOUR = 'llmops.dev/colour';
export const CONFIG_HASH = 'llmops.dev/config-hash';
export const DEPLOYED_AT = 'llmops.dev/deployed-at';
const SERVICE_PORT = 80;

/** `<NAME>-blue` / `<NAME>-green`: the Deployment, Service (and `-secrets` Secret) of a colour. */
export function versionName(entry: KubernetesEntry, colour: Colour): string {
  return `${entry.name}-${colour}`;
}

export function colourOf(entry: KubernetesEntry, version: string): Colour | undefined {
  return COLOURS.find((c) => versionName(entry, c) === version);
}

/** Selector of every Deployment this entry owns. */
export function ownedSelector(entry: KubernetesEntry): string {
  return `${APP}=${entry.name},${MANAGED_BY}=llmops`;
}

export function coloursRouteName(entry: KubernetesEntry): string {
  return `${entry.name}-colours`;
}

export function secretName(entry: KubernetesEntry, colour: Colour): string {
  return `${versionName(entry, colour)}-secrets`;
}

export interface ContainerSpec {
  image: string;
  /** Plain variables (config, env.yaml without its secrets). */
  env: Record<string, string>;
  /** Secret variables: name → value; stored in the colour's Secret, referenced from the container. */
  secretEnv: Record<string, string>;
}

function labels(entry: KubernetesEntry, colour?: Colour): Record<string, string> {
  return { [APP]: entry.name, [MANAGED_BY]: 'llmops', ...(colour ? { [COLOUR]: colour } : {}) };
}

/**
 * What makes two deployments the same: image, variables (secret ones by name only: the hash is stored in an
 * annotation and must not let anyone test a guess of a secret), replicas, resources, port.
 */
export function configHash(entry: KubernetesEntry, c: ContainerSpec): string {
  return createHash('sha256')
    .update(
      JSON.stringify([
        c.image,
        Object.entries(c.env).sort(),
        Object.keys(c.secretEnv).sort(),
        entry.replicas,
        entry.resources,
        entry.containerPort,
      ]),
    )
    .digest('hex')
    .slice(0, 16);
}

function checked<T extends { validate(): void }>(model: T, what: string): T {
  try {
    model.validate();
  } catch (e) {
    // Our own manifest failing the API schema is our bug unless a config value caused it: say which object.
    throw new Error(`the ${what} manifest is invalid: ${(e as Error).message}`);
  }
  return model;
}

export function secretManifest(entry: KubernetesEntry, colour: Colour, values: Record<string, string>): Secret {
  return checked(
    new Secret({
      metadata: { name: secretName(entry, colour), namespace: entry.namespace, labels: labels(entry, colour) },
      type: 'Opaque',
      stringData: values,
    }),
    `Secret ${secretName(entry, colour)}`,
  );
}

export function deploymentManifest(
  entry: KubernetesEntry,
  colour: Colour,
  c: ContainerSpec,
  deployedAt: string,
): Deployment {
  const name = versionName(entry, colour);
  const hash = configHash(entry, c);
  const probe = { httpGet: { path: '/health', port: 'http' } };
  const resources = {
    ...(Object.keys(entry.resources.requests).length ? { requests: entry.resources.requests } : {}),
    ...(Object.keys(entry.resources.limits).length ? { limits: entry.resources.limits } : {}),
  };
  return checked(
    new Deployment({
      metadata: {
        name,
        namespace: entry.namespace,
        labels: labels(entry, colour),
        annotations: { [CONFIG_HASH]: hash, [DEPLOYED_AT]: deployedAt },
      },
      spec: {
        replicas: entry.replicas,
        selector: { matchLabels: labels(entry, colour) },
        progressDeadlineSeconds: entry.rolloutTimeoutSeconds,
        // New pods come up before old ones go (a colour is updated only while it serves nothing, but still).
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
        template: {
          // The hash changes the template when the config does, so the pods are replaced.
          metadata: { labels: labels(entry, colour), annotations: { [CONFIG_HASH]: hash } },
          spec: {
            containers: [
              {
                name: 'serve',
                image: c.image,
                ports: [{ name: 'http', containerPort: entry.containerPort }],
                env: [
                  ...Object.entries(c.env).map(([k, value]) => ({ name: k, value })),
                  ...Object.keys(c.secretEnv).map((k) => ({
                    name: k,
                    valueFrom: { secretKeyRef: { name: secretName(entry, colour), key: k } },
                  })),
                  { name: 'PORT', value: String(entry.containerPort) },
                  // Who answers, on each request-log line (monitor --compare, the promotion gate).
                  { name: 'LLMOPS_DEPLOYMENT', value: name },
                ],
                ...(Object.keys(resources).length ? { resources } : {}),
                readinessProbe: { ...probe, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 3 },
                // Generous: a flow's first request may load Python code; a slow start is not a dead container.
                livenessProbe: {
                  ...probe,
                  initialDelaySeconds: 10,
                  periodSeconds: 10,
                  timeoutSeconds: 2,
                  failureThreshold: 6,
                },
              },
            ],
          },
        },
      },
    }),
    `Deployment ${name}`,
  );
}

export function serviceManifest(entry: KubernetesEntry, colour: Colour): Service {
  const name = versionName(entry, colour);
  return checked(
    new Service({
      metadata: { name, namespace: entry.namespace, labels: labels(entry, colour) },
      spec: {
        selector: labels(entry, colour),
        ports: [{ name: 'http', port: SERVICE_PORT, targetPort: 'http', protocol: 'TCP' }],
      },
    }),
    `Service ${name}`,
  );
}

function parentRefs(entry: KubernetesEntry) {
  return [
    {
      group: 'gateway.networking.k8s.io',
      kind: 'Gateway',
      name: entry.gateway.name,
      namespace: entry.gateway.namespace,
      ...(entry.gateway.sectionName ? { sectionName: entry.gateway.sectionName } : {}),
    },
  ];
}

/**
 * The weighted route: one rule, a backendRef per version with traffic (none at all before a first rollout), and a
 * RequestMirror filter per mirrored version (a copy of that percent of its requests, answers discarded).
 */
export function trafficRouteManifest(
  entry: KubernetesEntry,
  traffic: TrafficMap,
  resourceVersion?: string,
  mirror: TrafficMap = {},
): HTTPRoute {
  const filters = Object.entries(mirror)
    .filter(([, percent]) => percent > 0)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, percent]) => ({
      type: 'RequestMirror' as const,
      requestMirror: { backendRef: { group: '', kind: 'Service', name, port: SERVICE_PORT }, percent },
    }));
  return checked(
    new HTTPRoute({
      metadata: {
        name: entry.name,
        namespace: entry.namespace,
        labels: labels(entry),
        ...(resourceVersion ? { resourceVersion } : {}),
      },
      spec: {
        parentRefs: parentRefs(entry),
        ...(entry.host ? { hostnames: [entry.host] } : {}),
        rules: [
          {
            matches: [{ path: { type: 'PathPrefix', value: '/' } }],
            backendRefs: Object.entries(traffic)
              .filter(([, w]) => w > 0)
              .sort(([a], [b]) => (a < b ? -1 : 1))
              .map(([name, weight]) => ({ group: '', kind: 'Service', name, port: SERVICE_PORT, weight })),
            ...(filters.length ? { filters } : {}),
          },
        ],
      },
    }),
    `HTTPRoute ${entry.name}`,
  );
}

/** The colours route: `x-llmops-colour: <colour>` reaches that colour's Service alone. */
export function coloursRouteManifest(entry: KubernetesEntry, colours: Colour[]): HTTPRoute {
  return checked(
    new HTTPRoute({
      metadata: { name: coloursRouteName(entry), namespace: entry.namespace, labels: labels(entry) },
      spec: {
        parentRefs: parentRefs(entry),
        ...(entry.host ? { hostnames: [entry.host] } : {}),
        rules: [...colours].sort().map((colour) => ({
          matches: [
            {
              path: { type: 'PathPrefix', value: '/' },
              headers: [{ type: 'Exact', name: COLOUR_HEADER, value: colour }],
            },
          ],
          backendRefs: [{ group: '', kind: 'Service', name: versionName(entry, colour), port: SERVICE_PORT }],
        })),
      },
    }),
    `HTTPRoute ${coloursRouteName(entry)}`,
  );
}

interface RouteRule {
  matches?: { headers?: unknown[] }[];
  backendRefs?: { name: string; weight?: number }[];
  filters?: {
    type: string;
    requestMirror?: {
      backendRef: { name: string };
      percent?: number;
      fraction?: { numerator: number; denominator?: number };
    };
  }[];
}

/** The weighted rule of a route: its first rule without header matches. */
function weightedRule(route: { spec?: { rules?: unknown[] } } | undefined): RouteRule | undefined {
  return ((route?.spec?.rules ?? []) as RouteRule[]).find((r) => !(r.matches ?? []).some((m) => m.headers?.length));
}

/** The live map of the weighted route (its first rule without header matches). */
export function trafficOf(route: { spec?: { rules?: unknown[] } } | undefined): TrafficMap {
  const rule = weightedRule(route);
  const traffic: TrafficMap = {};
  // An omitted weight is 1 (Gateway API); ours are always explicit percentages.
  for (const b of rule?.backendRefs ?? []) if ((b.weight ?? 1) > 0) traffic[b.name] = b.weight ?? 1;
  return traffic;
}

/**
 * The mirror map of the weighted rule: the percent each RequestMirror filter copies. A filter written by hand may
 * give a fraction instead (denominator 100 by default) or neither (every request, per the Gateway API).
 */
export function mirrorOf(route: { spec?: { rules?: unknown[] } } | undefined): TrafficMap {
  const mirror: TrafficMap = {};
  for (const f of weightedRule(route)?.filters ?? []) {
    const m = f.type === 'RequestMirror' ? f.requestMirror : undefined;
    if (!m) continue;
    const percent = m.percent ?? (m.fraction ? (100 * m.fraction.numerator) / (m.fraction.denominator ?? 100) : 100);
    if (percent > 0) mirror[m.backendRef.name] = percent;
  }
  return mirror;
}

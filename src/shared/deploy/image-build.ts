/**
 * The flow's serving image built without a Docker daemon: the build context (`serve/build-context.ts`) goes
 * to the registry as a tar.gz (`listBuildSourceUploadUrl` + one blob PUT to the SAS URL it returns), an ACR
 * build task runs over it (`scheduleRun` with a DockerBuildRequest), and the run is followed (status and, when
 * it fails, the tail of its log) until it ends. The tag is the context's content hash, so the same flow, CLI
 * and connections always name the same image, and a build is skipped when a run already pushed that tag.
 *
 * Whether the tag exists is asked of ARM (`runs` filtered on OutputImageManifests and Status Succeeded), not
 * of the registry's data plane (`GET /v2/<repo>/manifests/<tag>`): the data plane needs its own token
 * exchange (`/oauth2/exchange`) and the AcrPull role, ARM needs only the Contributor role the build itself
 * needs. The cost: an image deleted from the registry after its run is not noticed (delete its run too, or
 * pass `--image`). Called by every container target (webapp, kubernetes, container-app) with the same config.
 *
 * Five plain REST calls through our ARM client at the build/runs api-version of the vendored spec
 * (containerregistry_build.json 2019-04-01), validated by the test emulator: no container registry SDK is a
 * dependency for them.
 * @module
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import * as tar from 'tar';
import type { ArmClient } from '../azure/arm-client.js';
import { ServiceError } from '../errors.js';

/** api-version of ACR's build/runs API (containerregistry_build.json, stable). */
export const ACR_TASKS_API_VERSION = '2019-04-01';

export interface RegistryRef {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  /** `<name>.azurecr.io` unless given (other clouds: azurecr.cn, azurecr.us). */
  loginServer?: string;
}

export interface EnsureImageOptions {
  /** An ARM client at ACR_TASKS_API_VERSION. */
  client: ArmClient;
  registry: RegistryRef;
  /** Repository in the registry, e.g. `llmops/<experiment>-<env>`. */
  repository: string;
  /** The build context folder (Dockerfile at its root) and its content hash. */
  contextDir: string;
  contextHash: string;
  log?: (line: string) => void;
  /** Longest wait for the run (default 60 min, ACR's own run timeout). */
  timeoutMs?: number;
  /** Poll interval of the run's status (default 5 s). */
  pollMs?: number;
  /** Only say what would happen: no upload, no run. */
  dryRun?: boolean;
}

export interface EnsuredImage {
  /** `<loginServer>/<repository>:<tag>`. */
  image: string;
  built: boolean;
  runId?: string;
}

interface Run {
  name?: string;
  properties?: {
    runId?: string;
    status?: string;
    runErrorMessage?: string;
    outputImages?: { registry?: string; repository?: string; tag?: string; digest?: string }[];
  };
}

const TERMINAL = new Set(['Succeeded', 'Failed', 'Canceled', 'Error', 'Timeout']);

export function registryLoginServer(r: RegistryRef, resourceManager = 'https://management.azure.com'): string {
  if (r.loginServer) return r.loginServer;
  const host = new URL(resourceManager).hostname;
  const suffix = host.endsWith('chinacloudapi.cn')
    ? 'azurecr.cn'
    : host.endsWith('usgovcloudapi.net')
      ? 'azurecr.us'
      : 'azurecr.io';
  return `${r.name.toLowerCase()}.${suffix}`;
}

/** The repository of a use case's serving image (`llmops/<experiment>-<env>`), whichever target builds it. */
export function imageRepository(name: string): string {
  return `llmops/${name.toLowerCase().replace(/[^a-z0-9._-]/g, '-')}`;
}

export function imageTag(contextHash: string): string {
  return contextHash.slice(0, 16);
}

/** The image of this build context in the registry: built by an ACR run when no run pushed its tag yet. */
export async function ensureImage(o: EnsureImageOptions): Promise<EnsuredImage> {
  const log = o.log ?? (() => undefined);
  const r = o.registry;
  const base = `/subscriptions/${r.subscriptionId}/resourceGroups/${r.resourceGroup}/providers/Microsoft.ContainerRegistry/registries/${encodeURIComponent(r.name)}`;
  const tag = imageTag(o.contextHash);
  const image = `${registryLoginServer(r, o.client.endpoint)}/${o.repository}:${tag}`;
  const what = (s: string) => `${s} (container registry ${r.name} in resource group ${r.resourceGroup})`;
  const role = 'Contributor (or AcrPush + the Container Registry Tasks Contributor role) on the registry';

  const done = await o.client.list<Run>(`${base}/runs`, {
    what: what(`look for a run that pushed ${o.repository}:${tag}`),
    query: { $filter: `OutputImageManifests eq '${o.repository}:${tag}' and Status eq 'Succeeded'`, $top: 1 },
    role,
  });
  if (done.length > 0) {
    log(`image ${image} exists (run ${done[0].properties?.runId ?? done[0].name}); not built again`);
    return { image, built: false, runId: done[0].properties?.runId };
  }
  if (o.dryRun) return { image, built: false };

  const archive = tarGz(o.contextDir);
  const upload = await o.client.request<{ uploadUrl?: string; relativePath?: string }>(
    'POST',
    `${base}/listBuildSourceUploadUrl`,
    { what: what('get an upload URL for the build context'), role },
  );
  if (!upload.body?.uploadUrl || !upload.body.relativePath)
    throw new ServiceError(`Azure Container Registry: ${r.name} returned no upload URL for the build context`);
  log(`uploading the build context (${Math.round(archive.length / 1024)} KiB) to ${r.name}`);
  const put = await fetch(upload.body.uploadUrl, {
    method: 'PUT',
    headers: { 'x-ms-blob-type': 'BlockBlob', 'content-type': 'application/gzip' },
    body: new Uint8Array(archive),
    signal: AbortSignal.timeout(300_000),
  }).catch((e: unknown) => e as Error);
  if (put instanceof Error || !put.ok)
    throw new ServiceError(
      `Azure Container Registry: uploading the build context failed: ${put instanceof Error ? put.message : `HTTP ${put.status} ${(await put.text()).slice(0, 300)}`}`,
    );

  const scheduled = await o.client.request<Run>('POST', `${base}/scheduleRun`, {
    what: what(`schedule the build of ${o.repository}:${tag}`),
    role,
    body: {
      type: 'DockerBuildRequest',
      imageNames: [`${o.repository}:${tag}`],
      isPushEnabled: true,
      noCache: false,
      dockerFilePath: 'Dockerfile',
      sourceLocation: upload.body.relativePath,
      platform: { os: 'Linux', architecture: 'amd64' },
      timeout: Math.round((o.timeoutMs ?? 3_600_000) / 1000),
    },
  });
  const runId = scheduled.body?.properties?.runId ?? scheduled.body?.name;
  if (!runId) throw new ServiceError(`Azure Container Registry: ${r.name} scheduled a run but returned no run id`);
  log(`ACR run ${runId} building ${image}`);
  const run = await follow(o, `${base}/runs/${encodeURIComponent(runId)}`, runId, what, log);
  const status = run.properties?.status;
  if (status !== 'Succeeded') {
    const tail = await logTail(
      o.client,
      `${base}/runs/${encodeURIComponent(runId)}`,
      what(`read the log of run ${runId}`),
    );
    throw new ServiceError(
      `Azure Container Registry: run ${runId} building ${image} ended ${status}${run.properties?.runErrorMessage ? `: ${run.properties.runErrorMessage}` : ''}${tail ? `\nlast lines of the build log:\n${tail}` : ''}`,
    );
  }
  log(`ACR run ${runId} pushed ${image}`);
  return { image, built: true, runId };
}

async function follow(
  o: EnsureImageOptions,
  runPath: string,
  runId: string,
  what: (s: string) => string,
  log: (l: string) => void,
): Promise<Run> {
  const deadline = Date.now() + (o.timeoutMs ?? 3_600_000);
  let last = '';
  for (;;) {
    const r = await o.client.get<Run>(runPath, { what: what(`read run ${runId}`) });
    const status = r.body?.properties?.status ?? 'Unknown';
    if (status !== last) log(`ACR run ${runId}: ${status}`);
    last = status;
    if (TERMINAL.has(status)) return r.body;
    if (Date.now() > deadline)
      throw new ServiceError(
        `Azure Container Registry: run ${runId} still ${status} after ${Math.round((o.timeoutMs ?? 3_600_000) / 60_000)} min`,
      );
    await new Promise((res) => setTimeout(res, o.pollMs ?? 5000));
  }
}

/** The last lines of a run's log (its SAS link), or '' when it cannot be read: the failure is reported anyway. */
async function logTail(client: ArmClient, runPath: string, what: string, lines = 30): Promise<string> {
  try {
    const r = await client.request<{ logLink?: string }>('POST', `${runPath}/listLogSasUrl`, { what });
    if (!r.body?.logLink) return '';
    const text = await (await fetch(r.body.logLink, { signal: AbortSignal.timeout(30_000) })).text();
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * The folder as a gzipped tar, entries in sorted order with fixed times and no owners, so the same folder always
 * gives the same bytes (and the same upload).
 */
export function tarGz(dir: string): Buffer {
  const entries: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = statSync(path.join(dir, r));
      if (st.isDirectory()) {
        entries.push(`${r}/`);
        walk(r);
      } else if (st.isFile()) entries.push(r);
    }
  };
  walk('');
  const chunks: Buffer[] = [];
  // sync: the whole archive is produced inside this call, through the data listener.
  tar
    .create({ gzip: true, cwd: dir, portable: true, mtime: new Date(0), sync: true, noDirRecurse: true }, entries)
    .on('data', (chunk: Buffer) => chunks.push(chunk));
  return Buffer.concat(chunks);
}

/**
 * What an Azure ML online deployment runs: the flow folder (includes merged, variant applied) as a model
 * version and our serving image's docker build context (or an image the user names) as an environment
 * version. Both are versioned by content hash, so an unchanged flow registers nothing new; the folders go to
 * the workspace datastore under `LocalUpload/<hash>/<name>` as the Azure ML SDK lays them out.
 * @module
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { blobNamesUnder, openDatastore, UPLOAD_ROOT, uploadFile, type DatastoreContainer } from '../azure/blob.js';
import type { MlWorkspace } from '../azure/workspace.js';
import type { Connection } from '../config/connections.js';
import type { LoadedFlow } from '../flow/index.js';
import { writeBuildContext } from '../serve/build-context.js';

/** Characters of the sha256 used as a version (as data assets do). */
const VERSION_LENGTH = 16;

export interface FlowPackage {
  /** The docker build context (Dockerfile, start.sh, app/, flow/, connections/). */
  contextDir: string;
  /** `<context>/flow`: what is registered as the model. */
  flowDir: string;
  modelHash: string;
  contextHash: string;
  /** Environment variables the container needs: `<CONN>_<KEY>` of each connection secret. */
  settings: string[];
  /** node → variant id applied. */
  selection: Record<string, string>;
}

export function packageFlow(o: {
  flow: string | LoadedFlow;
  variants: string[];
  connections: readonly Connection[];
  output: string;
  /** Folder holding dist/cli.js etc. for the image (default: this installation). */
  packageRoot?: string;
}): FlowPackage {
  const r = writeBuildContext({
    flow: o.flow,
    output: o.output,
    variants: o.variants,
    connections: o.connections,
    packageRoot: o.packageRoot,
  });
  const flowDir = path.join(r.dir, 'flow');
  return {
    contextDir: r.dir,
    flowDir,
    modelHash: folderHash(flowDir),
    contextHash: folderHash(r.dir),
    settings: r.settings,
    selection: r.selection,
  };
}

/** sha256 over every file's relative path and bytes, in sorted order: the same folder always hashes the same. */
export function folderHash(dir: string): string {
  const hash = createHash('sha256');
  for (const rel of filesUnder(dir)) {
    hash.update(`${rel}\0`);
    hash.update(readFileSync(path.join(dir, rel)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

/** Uploads what is missing of a folder under `LocalUpload/<hash>/<name>/`; returns that blob prefix. */
async function uploadFolder(store: DatastoreContainer, dir: string, hash: string, name: string): Promise<string> {
  const prefix = `${UPLOAD_ROOT}/${hash}/${name}/`;
  const present = await blobNamesUnder(store, prefix);
  for (const rel of filesUnder(dir))
    if (!present.has(prefix + rel)) await uploadFile(store, prefix + rel, path.join(dir, rel), { content_hash: hash });
  return prefix;
}

export interface RegisteredVersion {
  name: string;
  version: string;
  /** ARM id, what a deployment references. */
  id: string;
  created: boolean;
}

interface AssetVersion {
  id?: string;
  properties: { tags?: Record<string, string> };
}

const path404 = (ws: MlWorkspace, p: string, what: string) =>
  ws.client
    .get<AssetVersion>(`${ws.id}/${p}`, { what, accept: [404] })
    .then((r) => (r.status === 404 ? undefined : r.body));

/** The model version of this flow folder: found by its hash, else uploaded and registered. */
export async function ensureModel(
  ws: MlWorkspace,
  name: string,
  pkg: FlowPackage,
  o: { store?: () => Promise<DatastoreContainer>; chat?: { input: string; output: string } } = {},
): Promise<RegisteredVersion> {
  const version = pkg.modelHash.slice(0, VERSION_LENGTH);
  const rel = `models/${encodeURIComponent(name)}/versions/${version}`;
  const id = `${ws.id}/${rel}`;
  if (await path404(ws, rel, `read model ${name}:${version}`)) return { name, version, id, created: false };
  const store = await (o.store ?? (() => defaultStore(ws)))();
  const prefix = await uploadFolder(store, pkg.flowDir, pkg.modelHash, 'flow');
  await ws.client.request('PUT', `${ws.id}/${rel}`, {
    what: `register model ${name}:${version}`,
    body: {
      properties: {
        modelType: 'custom_model',
        modelUri: `azureml://datastores/${store.datastore.name}/paths/${prefix}`,
        description: 'Prompt flow registered by llmops deploy',
        tags: { model_hash: pkg.modelHash, ...variantTags(pkg.selection) },
        properties: {
          'azureml.promptflow.source_flow_id': name,
          ...(o.chat
            ? {
                'azureml.promptflow.mode': 'chat',
                'azureml.promptflow.chat_input': o.chat.input,
                'azureml.promptflow.chat_output': o.chat.output,
              }
            : {}),
        },
        isAnonymous: false,
        isArchived: false,
      },
    },
  });
  return { name, version, id, created: true };
}

/** The environment: the image the user names, or our serving image built from the uploaded build context. */
export async function ensureEnvironment(
  ws: MlWorkspace,
  name: string,
  source: { image: string } | { pkg: FlowPackage },
  o: { store?: () => Promise<DatastoreContainer> } = {},
): Promise<RegisteredVersion> {
  const version = environmentVersion(source);
  const hash = 'image' in source ? imageHash(source.image) : source.pkg.contextHash;
  const rel = `environments/${encodeURIComponent(name)}/versions/${version}`;
  const id = `${ws.id}/${rel}`;
  if (await path404(ws, rel, `read environment ${name}:${version}`)) return { name, version, id, created: false };
  let image: Record<string, unknown>;
  if ('image' in source) image = { image: source.image };
  else {
    const store = await (o.store ?? (() => defaultStore(ws)))();
    const prefix = await uploadFolder(store, source.pkg.contextDir, hash, 'context');
    image = {
      build: { contextUri: `${store.container.url.replace(/\?.*$/, '')}/${prefix}`, dockerfilePath: 'Dockerfile' },
    };
  }
  const route = (p: string) => ({ path: p, port: 8080 });
  await ws.client.request('PUT', `${ws.id}/${rel}`, {
    what: `register environment ${name}:${version}`,
    body: {
      properties: {
        ...image,
        osType: 'Linux',
        // Our server's routes (start.sh serves on $PORT, 8080 by default).
        inferenceConfig: {
          livenessRoute: route('/health'),
          readinessRoute: route('/health'),
          scoringRoute: route('/score'),
        },
        tags: { content_hash: hash },
        isAnonymous: false,
        isArchived: false,
      },
    },
  });
  return { name, version, id, created: true };
}

const imageHash = (image: string) => createHash('sha256').update(image).digest('hex');

/** The environment version of an image or a build context (its content hash). */
export function environmentVersion(source: { image: string } | { pkg: FlowPackage }): string {
  return ('image' in source ? imageHash(source.image) : source.pkg.contextHash).slice(0, VERSION_LENGTH);
}

function variantTags(selection: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(selection).map(([node, v]) => [`variant.${node}`, v]));
}

export async function defaultStore(ws: MlWorkspace): Promise<DatastoreContainer> {
  return openDatastore(ws, await ws.datastore());
}

/**
 * Datasets as Azure ML data assets. Registering: the version is the content hash, so the same content
 * is found by a GET of that version and nothing is uploaded or created again; new content is uploaded
 * to the workspace datastore under `LocalUpload/<hash>/<name>` (the Azure ML SDK's layout) and
 * registered as `uri_file` (a file) or `uri_folder` (a folder), tagged with the hash, row count and
 * source. Reading: `azureml:<name>:<version|latest>` resolves to a version and its data is downloaded
 * once into the store's cache by hash, then read like a local file.
 * @module
 */
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, ServiceError } from '../errors.js';
import { parseAssetSource } from './asset-ref.js';
import { hashFile } from '../data/check.js';
import { dataFiles } from '../runs/data.js';
import { RunStore } from '../runs/store.js';
import {
  downloadFile,
  blobNamesUnder,
  openDatastore,
  sha256File,
  UPLOAD_ROOT,
  uploadFile,
  type DatastoreContainer,
} from './blob.js';
import type { Datastore, DataVersion, MlWorkspace } from './workspace.js';

/** Characters of the sha256 used as the version: 64 bits, short enough to write in experiment.yaml. */
export const VERSION_LENGTH = 16;

export const HASH_TAG = 'data_hash';

export interface AssetToRegister {
  name: string;
  /** A data file or a folder of data files. */
  localPath: string;
  /** sha256 of the content (data/check.ts: a folder's files in reading order, names included). */
  hash: string;
  rows: number;
  /** As written in experiment.yaml. */
  source: string;
  description?: string;
}

export interface AssetPlan {
  name: string;
  version: string;
  dataType: 'uri_file' | 'uri_folder';
  /** Exists already with this content: nothing to do. */
  exists: boolean;
  /** Blobs to upload (empty when the hash is already in the datastore). */
  uploads: { file: string; blob: string }[];
  dataUri: string;
}

export interface RegisteredAsset extends AssetPlan {
  created: boolean;
}

/**
 * What registering would do, from reads only (data version GET, datastore listing): the `--dry-run`
 * answer, and the first half of `registerAsset`.
 */
export async function planAsset(
  ws: MlWorkspace,
  asset: AssetToRegister,
  store?: DatastoreContainer,
): Promise<AssetPlan & { store?: DatastoreContainer }> {
  const version = asset.hash.slice(0, VERSION_LENGTH);
  const folder = statSync(asset.localPath).isDirectory();
  const dataType = folder ? 'uri_folder' : 'uri_file';
  const existing = await ws.dataVersion(asset.name, version);
  if (existing) {
    const tagged = existing.properties.tags?.[HASH_TAG];
    if (tagged && tagged !== asset.hash)
      throw new ServiceError(
        `Azure ML: data asset ${asset.name}:${version} exists with other content (tag ${HASH_TAG} ${tagged}, this data ${asset.hash}); archive or rename that version`,
      );
    return { name: asset.name, version, dataType, exists: true, uploads: [], dataUri: existing.properties.dataUri };
  }
  const datastore = store ?? (await openDatastore(ws, await ws.datastore()));
  const base = path.basename(asset.localPath);
  const prefix = `${UPLOAD_ROOT}/${asset.hash}/`;
  const files = folder ? dataFiles(asset.localPath) : [asset.localPath];
  // Blob by blob: the same content under another file name, or an interrupted folder upload, is completed.
  const present = await blobNamesUnder(datastore, folder ? `${prefix}${base}/` : `${prefix}${base}`);
  const uploads = files
    .map((file) => ({
      file,
      blob: folder
        ? `${prefix}${base}/${path.relative(asset.localPath, file).split(path.sep).join('/')}`
        : `${prefix}${base}`,
    }))
    .filter((u) => !present.has(u.blob));
  const dataUri = `azureml://datastores/${datastore.datastore.name}/paths/${prefix}${base}${folder ? '/' : ''}`;
  return { name: asset.name, version, dataType, exists: false, uploads, dataUri, store: datastore };
}

/** Register one dataset; `store` is shared between datasets so the datastore secrets are read once. */
export async function registerAsset(
  ws: MlWorkspace,
  asset: AssetToRegister,
  store?: DatastoreContainer,
): Promise<RegisteredAsset & { store?: DatastoreContainer }> {
  const plan = await planAsset(ws, asset, store);
  if (plan.exists) return { ...plan, created: false };
  for (const u of plan.uploads)
    await uploadFile(plan.store!, u.blob, u.file, { data_hash: asset.hash, asset_name: asset.name });
  await ws.putDataVersion(asset.name, plan.version, {
    dataType: plan.dataType,
    dataUri: plan.dataUri,
    description: asset.description,
    tags: { [HASH_TAG]: asset.hash, rows: String(asset.rows), source: asset.source },
    isAnonymous: false,
    isArchived: false,
  });
  return { ...plan, created: true };
}

export interface ResolvedAsset {
  name: string;
  version: string;
  dataUri: string;
  /** Local copy in the store's cache (a file, or a folder for uri_folder). */
  localPath: string;
  hash?: string;
  downloaded: boolean;
}

/**
 * Resolve an `azureml:` source and make its data local: `<store>/data/cache/<hash or name-version>/`.
 * A copy already in the cache is used as is; a download is checked against the version's hash tag.
 */
export async function fetchAsset(ws: MlWorkspace, source: string, storeRoot: string): Promise<ResolvedAsset> {
  const ref = parseAssetSource(source);
  if (!ref) throw ConfigError.at({ file: source }, 'expected azureml:<asset>:<version> or azureml:<asset>:latest');
  const found = ref.version ? await ws.dataVersion(ref.name, ref.version) : await ws.latestDataVersion(ref.name);
  if (!found)
    throw new ServiceError(
      `Azure ML: data asset ${ref.name}${ref.version ? `:${ref.version}` : ''} not found in workspace ${ws.settings.workspace}${ref.version ? '' : ' (it has no versions)'}`,
      404,
    );
  const version = found.name;
  const hash = found.properties.tags?.[HASH_TAG];
  const folder = found.properties.dataType !== 'uri_file';
  const location = parseDatastoreUri(found);
  // Tags are anyone's to write: only a real sha256 names a folder, else the (sanitized) name and version.
  const cacheKey =
    hash && /^[0-9a-f]{64}$/.test(hash) ? hash : `${ref.name}-${version}`.replace(/[^A-Za-z0-9_.-]/g, '_');
  const cacheDir = new RunStore(storeRoot).dataAssetCacheDir(cacheKey);
  const base = path.posix.basename(location.path.replace(/\/+$/, '')) || ref.name;
  const localPath = path.join(cacheDir, base);
  const done = path.join(cacheDir, '.complete');
  const result = { name: ref.name, version, dataUri: found.properties.dataUri, localPath, hash };
  if (existsSync(done)) return { ...result, downloaded: false };

  const store = await openDatastore(ws, await datastoreNamed(ws, location.datastore));
  const partial = `${cacheDir}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  if (folder) {
    const prefix = location.path.replace(/\/*$/, '/');
    const names = [...(await blobNamesUnder(store, prefix))];
    for (const name of names) {
      const segments = name.slice(prefix.length).split('/');
      if (segments.some((x) => x === '' || x === '.' || x === '..'))
        throw new ServiceError(`Azure ML: data asset ${ref.name}:${version} holds a blob with an unsafe path: ${name}`);
      const target = path.join(partial, base, ...segments);
      mkdirSync(path.dirname(target), { recursive: true });
      await downloadFile(store, name, target);
    }
    if (names.length === 0)
      throw new ServiceError(`Azure ML: data asset ${ref.name}:${version} has no files at ${found.properties.dataUri}`);
  } else await downloadFile(store, location.path, path.join(partial, base));
  // The hash register-data tagged: a file's sha256, or a folder's data files in reading order with their names.
  if (hash && /^[0-9a-f]{64}$/.test(hash)) {
    const target = path.join(partial, base);
    const got = folder ? await hashFile(target) : await sha256File(target);
    if (got !== hash) {
      rmSync(partial, { recursive: true, force: true });
      throw new ServiceError(
        `Azure ML: data asset ${ref.name}:${version} downloaded from ${found.properties.dataUri} has sha256 ${got}${folder ? ' (its data files in reading order, names included)' : ''}, but its ${HASH_TAG} tag says ${hash}`,
      );
    }
  }
  // Moved into place in one step: a killed download never looks complete.
  rmSync(cacheDir, { recursive: true, force: true });
  mkdirSync(path.dirname(cacheDir), { recursive: true });
  renameSync(partial, cacheDir);
  writeFileSync(done, `${ref.name}:${version}\n`);
  return { ...result, downloaded: true };
}

async function datastoreNamed(ws: MlWorkspace, name: string): Promise<Datastore> {
  const r = await ws.client.get<Datastore>(`${ws.id}/datastores/${encodeURIComponent(name)}`, {
    what: `read datastore "${name}" in workspace ${ws.settings.workspace}`,
  });
  return r.body;
}

/** Datastore and path of `azureml://datastores/<ds>/paths/<p>` (short) or `azureml://subscriptions/.../datastores/<ds>/paths/<p>` (long). */
function parseDatastoreUri(v: DataVersion): { datastore: string; path: string } {
  const m =
    /^azureml:\/\/(?:subscriptions\/[^/]+\/resourcegroups\/[^/]+\/(?:providers\/[^/]+\/)?workspaces\/[^/]+\/)?datastores\/([^/]+)\/paths\/(.+)$/i.exec(
      v.properties.dataUri,
    );
  if (!m)
    throw new ServiceError(
      `Azure ML: data asset ${v.name} points at ${v.properties.dataUri}; only azureml://datastores/<datastore>/paths/<path> data can be read locally`,
    );
  return { datastore: m[1], path: decodeURIComponent(m[2]) };
}

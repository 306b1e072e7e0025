/**
 * The steps' side of Azure ML data assets: make every `azureml:` dataset of a step local (downloaded
 * once into the store's cache) before anything is planned or run, and say which asset version each
 * dataset resolved to, for lineage.
 * @module
 */
import path from 'node:path';
import type { Dataset, UseCase } from '../config/types.js';
import { ConfigError } from '../errors.js';
import type { Host } from '../host/host.js';
import { fetchAsset, type ResolvedAsset } from './data-assets.js';
import { azureSettings } from './settings.js';
import type { MlWorkspace } from './workspace.js';

/** The asset version a run read: `azureml:<name>:<version>` and where its data lives. */
export interface DataLineage {
  asset: string;
  name: string;
  version: string;
  dataUri: string;
  hash?: string;
}

export function lineageOf(a: ResolvedAsset): DataLineage {
  return {
    asset: `azureml:${a.name}:${a.version}`,
    name: a.name,
    version: a.version,
    dataUri: a.dataUri,
    hash: a.hash,
  };
}

/** The runs file's `dataAsset` field for a run of a dataset with this lineage (nothing for a local file). */
export function dataAssetOf(l: DataLineage | undefined): {
  dataAsset?: { asset: string; dataUri: string; hash?: string };
} {
  return l ? { dataAsset: { asset: l.asset, dataUri: l.dataUri, ...(l.hash ? { hash: l.hash } : {}) } } : {};
}

/**
 * Fill `localPath` of every `azureml:` dataset in `datasets` (the objects are updated in place, so the
 * plan and the runs read the cached copy). Returns dataset source → lineage; empty, and no Azure call,
 * when no dataset is an Azure ML asset.
 */
export async function resolveAzureDatasets(
  datasets: Dataset[],
  useCase: Pick<UseCase, 'azure' | 'locationOf' | 'variable'>,
  storeRoot: string,
  host: Host,
  open: (u: typeof useCase) => Promise<MlWorkspace> = (u) => defaultOpen(u, host),
): Promise<Map<string, DataLineage>> {
  const lineage = new Map<string, DataLineage>();
  const remote = datasets.filter((d) => d.source.startsWith('azureml:') && !d.localPath);
  if (remote.length === 0) return lineage;
  if (!useCase.azure)
    throw ConfigError.at(
      useCase.locationOf(['datasets']),
      `${remote.map((d) => d.source).join(', ')}: an azureml: dataset needs the azure: settings (subscription_id, resource_group, workspace), which are missing`,
    );
  const ws = await open(useCase);
  // Several datasets (a standard one and its evaluation copies) may name one asset: fetched once.
  const fetched = new Map<string, ResolvedAsset>();
  for (const d of remote) {
    let asset = fetched.get(d.source);
    if (!asset) {
      asset = await fetchAsset(ws, d.source, storeRoot);
      fetched.set(d.source, asset);
      lineage.set(d.source, lineageOf(asset));
      host.info(
        `${d.name}: ${d.source} is azureml:${asset.name}:${asset.version}, ${asset.downloaded ? 'downloaded to' : 'read from the cache at'} ${path.relative(process.cwd(), asset.localPath)}`,
      );
    }
    d.localPath = asset.localPath;
  }
  return lineage;
}

async function defaultOpen(
  useCase: Pick<UseCase, 'azure' | 'locationOf' | 'variable'>,
  host: Host,
): Promise<MlWorkspace> {
  // Loaded here: a step without azureml: datasets never loads the Azure HTTP pipeline (start-up time).
  const { openWorkspace } = await import('./workspace.js');
  return openWorkspace(azureSettings(useCase, 'azureml: datasets are read from it'), host.azureAuth?.() ?? {}, {
    log: (m) => host.info(m),
    mask: (secret) => host.mask(secret),
  });
}

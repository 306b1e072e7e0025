/**
 * DATA_ASSETS as Azure ML data assets, the way register-data registers datasets (azure/data-assets.ts): the
 * version is the content hash, so unchanged data is found by one GET and nothing is uploaded or created; new
 * content is uploaded once to the workspace datastore and registered as a uri_file version tagged with its hash.
 * @module
 */
import type { DatasetVersion } from '../data/registry.js';
import type { DatastoreContainer } from '../azure/blob.js';
import { registerAsset } from '../azure/data-assets.js';
import type { MlWorkspace } from '../azure/workspace.js';
import type { AssetRegistry } from './pipeline.js';

export class AzureAssetRegistry implements AssetRegistry {
  /** Opened on the first new asset and shared: the datastore's secrets are read once. */
  private store?: DatastoreContainer;

  constructor(private readonly ws: () => Promise<MlWorkspace>) {}

  async registerFile(
    file: string,
    entry: Omit<DatasetVersion, 'version' | 'registeredAt'>,
  ): Promise<DatasetVersion & { created: boolean; asset: string }> {
    const ws = await this.ws();
    const r = await registerAsset(
      ws,
      {
        name: entry.name,
        localPath: file,
        hash: entry.hash,
        rows: entry.rows,
        source: entry.source,
        description: entry.description,
      },
      this.store,
    );
    this.store ??= r.store;
    return {
      ...entry,
      version: r.version,
      registeredAt: new Date().toISOString(),
      created: r.created,
      asset: `azureml:${entry.name}:${r.version}`,
    };
  }
}

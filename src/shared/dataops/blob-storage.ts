/**
 * The source and target of a data pipeline as blobs (EXECUTION_TYPE azure), through @azure/storage-blob: the
 * source blob is downloaded into the staging folder; each prepared asset is uploaded to the target container
 * unless the blob there already holds that content (its sha256 is kept in the blob's metadata), so unchanged
 * data uploads nothing. Signed in with the step's Azure credential, or with a SAS token (masked in logs).
 * @module
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { TokenCredential } from '@azure/identity';
import type { ContainerClient } from '@azure/storage-blob';
import { ConfigError, ServiceError, type SourceLocation } from '../errors.js';
import type { DataSource, DataTarget } from './pipeline.js';
import type { BlobStoragePlan } from './plan.js';

/** Blob metadata key holding the sha256 of a published asset (what makes an unchanged upload a no-op). */
export const HASH_METADATA = 'data_hash';

export interface BlobAccess {
  /** Blob service URL of the account, without credentials (https://<account>.blob.<suffix>, or an override). */
  accountUrl: string;
  credential?: TokenCredential;
}

/** The two containers of the plan, signed in as the plan says. */
export async function openBlobStorage(
  storage: BlobStoragePlan,
  access: BlobAccess,
): Promise<{ source: ContainerClient; target: ContainerClient; auth: string }> {
  const blob = await import('@azure/storage-blob');
  if (storage.auth === 'sas') {
    const sas = (storage.sasToken ?? '').replace(/^\?/, '');
    const container = (name: string) => new blob.ContainerClient(`${access.accountUrl}/${name}?${sas}`);
    return {
      source: container(storage.sourceContainer),
      target: container(storage.targetContainer),
      auth: `SAS (${storage.sasVariable})`,
    };
  }
  if (!access.credential) throw new ServiceError('Azure storage: no Azure credential to sign in with');
  const service = new blob.BlobServiceClient(access.accountUrl, access.credential);
  return {
    source: service.getContainerClient(storage.sourceContainer),
    target: service.getContainerClient(storage.targetContainer),
    auth: 'Entra ID',
  };
}

export class BlobSource implements DataSource {
  constructor(
    private readonly container: ContainerClient,
    private readonly blobName: string,
    private readonly auth: string,
    /** Where SOURCE_BLOB is written in dataops_config.json, for a blob that does not exist. */
    private readonly at: SourceLocation,
  ) {}

  describe(): string {
    return `${this.container.url.split('?')[0]}/${this.blobName}`;
  }

  async fetch(stagingDir: string): Promise<string> {
    const file = path.join(stagingDir, 'source', path.posix.basename(this.blobName));
    mkdirSync(path.dirname(file), { recursive: true });
    const client = this.container.getBlobClient(this.blobName);
    try {
      await client.downloadToFile(file);
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode === 404)
        throw ConfigError.at(
          this.at,
          `SOURCE_BLOB: blob ${this.blobName} not found in container ${this.container.containerName} (${this.describe()}); expected the source file there`,
        );
      throw storageError(e, `download ${this.describe()}`, this.auth);
    }
    return file;
  }
}

export class BlobTarget implements DataTarget {
  constructor(
    private readonly container: ContainerClient,
    private readonly auth: string,
  ) {}

  describe(assetPath: string): string {
    return `${this.container.url.split('?')[0]}/${assetPath}`;
  }

  async publish(stagedFile: string, assetPath: string, hash: string): Promise<boolean> {
    const client = this.container.getBlockBlobClient(assetPath);
    try {
      const there = await client.getProperties().catch((e: { statusCode?: number }) => {
        if (e.statusCode === 404) return undefined;
        throw e;
      });
      if (there?.metadata?.[HASH_METADATA] === hash) return false;
      // One Put Blob (or blocks committed at the end): a reader never sees half a file.
      await client.uploadFile(stagedFile, { metadata: { [HASH_METADATA]: hash }, concurrency: 4 });
      return true;
    } catch (e) {
      throw storageError(e, `upload ${this.describe(assetPath)}`, this.auth);
    }
  }
}

function storageError(e: unknown, what: string, auth: string): ServiceError {
  const err = e as { statusCode?: number; code?: string; message?: string };
  if (err.statusCode === 403)
    return new ServiceError(
      `Azure storage: ${what} was forbidden (403${err.code ? ` ${err.code}` : ''}, ${auth}).${auth === 'Entra ID' ? ' The signed-in identity needs the role Storage Blob Data Contributor on the storage account.' : ' The SAS token does not allow it (it needs read, write and list on both containers) or has expired.'}`,
      403,
    );
  return new ServiceError(
    `Azure storage: ${what} failed (${auth}): ${err.statusCode ? `${err.statusCode} ` : ''}${err.code ?? ''}${err.message ? ` ${err.message.split('\n')[0]}` : ''}`.trim(),
    err.statusCode,
  );
}

/**
 * The blob container behind an Azure ML datastore, through @azure/storage-blob, signed in the way
 * the datastore says: its account key, its SAS token, or (identity-based datastores) our own Entra
 * credential. Uploads go where the Azure ML SDK puts local data, `LocalUpload/<hash>/<file>`, so a
 * content hash already present is never uploaded again.
 * @module
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { ContainerClient } from '@azure/storage-blob';
import { ServiceError } from '../errors.js';
import type { Datastore, DatastoreSecrets, MlWorkspace } from './workspace.js';

export const UPLOAD_ROOT = 'LocalUpload';

export interface DatastoreContainer {
  datastore: Datastore;
  container: ContainerClient;
  /** Blob service URL of the account (without credentials), for messages. */
  accountUrl: string;
  auth: 'account key' | 'SAS' | 'Entra ID';
}

/** Open the container of a datastore, with the credential it requires. */
export async function openDatastore(ws: MlWorkspace, datastore: Datastore): Promise<DatastoreContainer> {
  const p = datastore.properties;
  if (p.datastoreType !== 'AzureBlob' || !p.accountName || !p.containerName)
    throw new ServiceError(
      `Azure ML: datastore "${datastore.name}" is ${p.datastoreType}; register-data uploads to an AzureBlob datastore (set azure.datastore)`,
    );
  const accountUrl =
    ws.settings.blobEndpoint ??
    `${p.protocol ?? 'https'}://${p.accountName}.blob.${p.endpoint ?? ws.settings.storageSuffix}`;
  const secrets: DatastoreSecrets | undefined = await ws.datastoreSecrets(datastore);
  const blob = await import('@azure/storage-blob');
  if (secrets?.secretsType === 'AccountKey') {
    const service = new blob.BlobServiceClient(
      accountUrl,
      new blob.StorageSharedKeyCredential(p.accountName, secrets.key),
    );
    return { datastore, container: service.getContainerClient(p.containerName), accountUrl, auth: 'account key' };
  }
  if (secrets?.secretsType === 'Sas') {
    const sas = secrets.sasToken.replace(/^\?/, '');
    const container = new blob.ContainerClient(`${accountUrl}/${p.containerName}?${sas}`);
    return { datastore, container, accountUrl, auth: 'SAS' };
  }
  const service = new blob.BlobServiceClient(accountUrl, ws.credential);
  return { datastore, container: service.getContainerClient(p.containerName), accountUrl, auth: 'Entra ID' };
}

/** Names of the blobs under `prefix` (what an earlier, maybe interrupted, upload left). */
export async function blobNamesUnder(store: DatastoreContainer, prefix: string): Promise<Set<string>> {
  return storageCall(store, `list ${prefix}`, async () => {
    const names = new Set<string>();
    for await (const item of store.container.listBlobsFlat({ prefix })) names.add(item.name);
    return names;
  });
}

export async function uploadFile(
  store: DatastoreContainer,
  blobPath: string,
  file: string,
  metadata: Record<string, string>,
): Promise<void> {
  // One Put Blob up to 256 MB, blocks in parallel above (the library's choice by file size).
  await storageCall(store, `upload ${blobPath}`, () =>
    store.container.getBlockBlobClient(blobPath).uploadFile(file, { metadata, concurrency: 4 }),
  );
}

export async function downloadFile(store: DatastoreContainer, blobPath: string, file: string): Promise<void> {
  await storageCall(store, `download ${blobPath}`, () => store.container.getBlobClient(blobPath).downloadToFile(file));
}

/** sha256 of a stream of bytes, hex. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function storageCall<T>(store: DatastoreContainer, what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    const err = e as { statusCode?: number; code?: string; message?: string };
    const where = `${store.accountUrl}/${store.datastore.properties.containerName} (datastore "${store.datastore.name}", ${store.auth})`;
    if (err.statusCode === 403)
      throw new ServiceError(
        `Azure storage: ${what} in ${where} was forbidden (403${err.code ? ` ${err.code}` : ''}).${store.auth === 'Entra ID' ? ' The signed-in identity needs the role Storage Blob Data Contributor on the storage account.' : ' The datastore credential does not allow it.'}`,
        403,
      );
    throw new ServiceError(
      `Azure storage: ${what} in ${where} failed: ${err.statusCode ? `${err.statusCode} ` : ''}${err.code ?? ''}${err.message ? ` ${err.message.split('\n')[0]}` : ''}`.trim(),
      err.statusCode,
    );
  }
}

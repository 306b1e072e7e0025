/**
 * An Azure ML workspace as the steps use it: datastores and data assets (containers and versions),
 * over the ARM client. Room for jobs and online endpoints follows the same shape.
 * @module
 */
import type { TokenCredential } from '@azure/identity';
import { ServiceError } from '../errors.js';
import { ArmClient } from './arm-client.js';
import { createAzureCredential, type AzureAuthSource } from './credentials.js';
import { armScope } from './clouds.js';
import type { AzureSettings } from './settings.js';

export interface Datastore {
  name: string;
  properties: {
    datastoreType: string;
    isDefault?: boolean;
    accountName?: string;
    containerName?: string;
    endpoint?: string;
    protocol?: string;
    credentials?: { credentialsType: string };
  };
}

export type DatastoreSecrets = { secretsType: 'AccountKey'; key: string } | { secretsType: 'Sas'; sasToken: string };

export interface DataVersion {
  id?: string;
  name: string;
  properties: {
    dataType: 'uri_file' | 'uri_folder' | 'mltable';
    dataUri: string;
    description?: string;
    tags?: Record<string, string>;
    properties?: Record<string, string>;
    isArchived?: boolean;
    isAnonymous?: boolean;
  };
  systemData?: { createdAt?: string; lastModifiedAt?: string };
}

const STORAGE_ROLE = 'AzureML Data Scientist on the workspace (it allows reading datastore secrets)';

export class MlWorkspace {
  constructor(
    readonly client: ArmClient,
    readonly settings: AzureSettings,
    /** The signed-in credential, also used for identity-based datastores. */
    readonly credential: TokenCredential,
    /** Told every secret read from the workspace (datastore keys, SAS tokens), to mask in logs. */
    private readonly mask?: (secret: string) => void,
  ) {}

  /** ARM id of the workspace (also the prefix of every path below). */
  get id(): string {
    const s = this.settings;
    return `/subscriptions/${s.subscriptionId}/resourceGroups/${s.resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/${s.workspace}`;
  }

  private where(): string {
    return `in workspace ${this.settings.workspace} (resource group ${this.settings.resourceGroup})`;
  }

  /** The configured datastore, else the workspace default one. */
  async datastore(): Promise<Datastore> {
    const name = this.settings.datastore;
    if (name) {
      const r = await this.client.get<Datastore>(`${this.id}/datastores/${enc(name)}`, {
        what: `read datastore "${name}" ${this.where()}`,
      });
      return r.body;
    }
    const all = await this.client.list<Datastore>(`${this.id}/datastores`, {
      what: `find the default datastore ${this.where()}`,
      query: { isDefault: true },
    });
    const found = all.find((d) => d.properties.isDefault) ?? all[0];
    if (!found)
      throw new ServiceError(
        `Azure ML: workspace ${this.settings.workspace} has no default datastore; name one in azure.datastore`,
      );
    return found;
  }

  /** Account key or SAS token of a datastore; undefined for an identity-based one (credentialsType None). */
  async datastoreSecrets(store: Datastore): Promise<DatastoreSecrets | undefined> {
    const type = store.properties.credentials?.credentialsType;
    if (type !== 'AccountKey' && type !== 'Sas') return undefined;
    const r = await this.client.request<DatastoreSecrets>(
      'POST',
      `${this.id}/datastores/${enc(store.name)}/listSecrets`,
      {
        what: `read the secrets of datastore "${store.name}" ${this.where()}`,
        role: STORAGE_ROLE,
      },
    );
    const secret = r.body.secretsType === 'AccountKey' ? r.body.key : r.body.sasToken;
    if (secret) this.mask?.(secret);
    return r.body;
  }

  async dataVersion(name: string, version: string): Promise<DataVersion | undefined> {
    const r = await this.client.get<DataVersion>(`${this.id}/data/${enc(name)}/versions/${enc(version)}`, {
      what: `read data asset ${name}:${version} ${this.where()}`,
      accept: [404],
    });
    return r.status === 404 ? undefined : r.body;
  }

  /** The newest version of a data asset (what `azureml:<name>:latest` means), undefined when none exists. */
  async latestDataVersion(name: string): Promise<DataVersion | undefined> {
    const versions = await this.client
      .list<DataVersion>(`${this.id}/data/${enc(name)}/versions`, {
        what: `list the versions of data asset ${name} ${this.where()}`,
        query: { $orderBy: 'createdtime desc', $top: 1 },
        accept: [404],
      })
      .catch((e: { status?: number }) => {
        if (e.status === 404) return [];
        throw e;
      });
    // Sorted again here: a service that ignores $orderBy must not change which version "latest" is.
    return versions.sort((a, b) => created(b).localeCompare(created(a)))[0];
  }

  async putDataVersion(name: string, version: string, properties: DataVersion['properties']): Promise<DataVersion> {
    const r = await this.client.request<DataVersion>('PUT', `${this.id}/data/${enc(name)}/versions/${enc(version)}`, {
      what: `register data asset ${name}:${version} ${this.where()}`,
      body: { properties },
    });
    return r.body;
  }
}

function created(v: DataVersion): string {
  return v.systemData?.createdAt ?? '';
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

/** The workspace of these settings, signed in with the host's credential chain. */
export async function openWorkspace(
  settings: AzureSettings,
  auth: AzureAuthSource,
  options: {
    log?: (m: string) => void;
    mask?: (secret: string) => void;
    pollIntervalMs?: number;
    retryDelayMs?: number;
  } = {},
): Promise<MlWorkspace> {
  const { credential, choice } = await createAzureCredential({
    ...auth,
    // The public cloud's authority is @azure/identity's default (with instance discovery); others are named.
    authorityHost:
      settings.customAuthority || settings.cloud !== 'AzurePublicCloud' ? settings.authorityHost : auth.authorityHost,
  });
  options.log?.(`Azure: ${choice.reason}; Resource Manager ${settings.resourceManager}`);
  const client = new ArmClient({
    endpoint: settings.resourceManager,
    credential,
    scope: armScope(settings.resourceManager),
    pollIntervalMs: options.pollIntervalMs,
    retryDelayMs: options.retryDelayMs,
  });
  return new MlWorkspace(client, settings, credential, options.mask);
}

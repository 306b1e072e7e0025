/**
 * Which Azure cloud: the Resource Manager endpoint, the Entra authority and the storage suffix of
 * each national cloud, by the names the Azure CLI uses (`az cloud list`). Explicit endpoints in the
 * azure settings override a cloud's; that is also how tests point the production code at loopback.
 * @module
 */

export type CloudName = 'AzurePublicCloud' | 'AzureChinaCloud' | 'AzureUSGovernment';

export interface CloudEndpoints {
  /** Resource Manager, e.g. https://management.azure.com (no trailing slash). */
  resourceManager: string;
  /** Entra ID authority host, e.g. https://login.microsoftonline.com. */
  authorityHost: string;
  /** Suffix of storage accounts' endpoints (`<account>.blob.<suffix>`), when a datastore does not name one. */
  storageSuffix: string;
}

export const CLOUDS: Record<CloudName, CloudEndpoints> = {
  AzurePublicCloud: {
    resourceManager: 'https://management.azure.com',
    authorityHost: 'https://login.microsoftonline.com',
    storageSuffix: 'core.windows.net',
  },
  AzureChinaCloud: {
    resourceManager: 'https://management.chinacloudapi.cn',
    authorityHost: 'https://login.chinacloudapi.cn',
    storageSuffix: 'core.chinacloudapi.cn',
  },
  AzureUSGovernment: {
    resourceManager: 'https://management.usgovcloudapi.net',
    authorityHost: 'https://login.microsoftonline.us',
    storageSuffix: 'core.usgovcloudapi.net',
  },
};

export const CLOUD_NAMES = Object.keys(CLOUDS) as CloudName[];

/** The token scope of a Resource Manager endpoint: its origin + `/.default` (what `az` and the SDKs request). */
export function armScope(resourceManager: string): string {
  return `${new URL(resourceManager).origin}/.default`;
}

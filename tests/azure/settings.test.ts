/**
 * Which cloud and which credentials: the `azure:` settings of experiment.yaml (and its overlay)
 * resolved to endpoints, with placeholders and file:line:column problems; `azure-auth: cli` signing in
 * through the Azure CLI against the ARM emulator.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { azureSettings } from '../../src/shared/azure/settings.js';
import { chooseAzureAuth } from '../../src/shared/azure/credentials.js';
import { loadUseCase } from '../../src/shared/config/use-case.js';
import { ConfigError, formatProblem } from '../../src/shared/errors.js';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { ArmEmulator } from '../support/azure/arm-emulator.js';
import { Azurite, DEV_ACCOUNT, DEV_KEY } from '../support/azure/azurite.js';
import { runCli } from '../support/azure/cli.js';
import { baseEnv, baseExperiment, makeUseCase } from '../helpers/use-case-dir.js';

function settingsOf(
  azure: Record<string, unknown>,
  files: Record<string, string> = {},
  env: Record<string, string> = {},
) {
  const uc = makeUseCase({ 'experiment.yaml': `${baseExperiment}${stringify({ azure })}`, ...files });
  try {
    const useCase = loadUseCase({
      configPath: path.join(uc.dir, 'experiment.yaml'),
      cwd: uc.dir,
      host: new MemoryHost(),
      processEnv: { ...baseEnv, ...env },
      env: files['experiment.dev.yaml'] ? 'dev' : undefined,
    });
    return azureSettings(useCase, 'test');
  } finally {
    uc.cleanup();
  }
}

const ws = { subscription_id: 'sub-1', resource_group: 'rg', workspace: 'mlw' };

test('the public cloud by default; China and US Government by name', () => {
  expect(settingsOf(ws)).toMatchObject({
    cloud: 'AzurePublicCloud',
    resourceManager: 'https://management.azure.com',
    authorityHost: 'https://login.microsoftonline.com',
    customAuthority: false,
  });
  expect(settingsOf({ ...ws, cloud: 'AzureChinaCloud' })).toMatchObject({
    resourceManager: 'https://management.chinacloudapi.cn',
    authorityHost: 'https://login.chinacloudapi.cn',
    storageSuffix: 'core.chinacloudapi.cn',
  });
  expect(settingsOf({ ...ws, cloud: 'AzureUSGovernment' })).toMatchObject({
    resourceManager: 'https://management.usgovcloudapi.net',
    authorityHost: 'https://login.microsoftonline.us',
  });
});

test('explicit endpoints override the cloud; placeholders read the environment; the env overlay applies', () => {
  expect(
    settingsOf(
      {
        ...ws,
        workspace: '${AML_WORKSPACE}',
        resource_manager_endpoint: 'https://arm.contoso.example/',
        authority_host: 'https://login.contoso.example',
      },
      {
        'experiment.dev.yaml': stringify({
          azure: {
            ...ws,
            workspace: '${AML_WORKSPACE}',
            resource_manager_endpoint: 'https://arm.dev.example',
            authority_host: 'https://login.contoso.example',
          },
        }),
      },
      { AML_WORKSPACE: 'mlw-dev' },
    ),
  ).toMatchObject({
    workspace: 'mlw-dev',
    resourceManager: 'https://arm.dev.example',
    authorityHost: 'https://login.contoso.example',
    customAuthority: true,
  });
});

test('every problem at its file:line:column, in one pass: unknown cloud, plain http, unset variable, missing workspace', () => {
  const error = (() => {
    try {
      settingsOf({
        subscription_id: '${SUB_ID}',
        resource_group: 'rg',
        cloud: 'AzureGermanCloud',
        resource_manager_endpoint: 'http://arm.example',
      });
    } catch (e) {
      return e;
    }
  })();
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as ConfigError).problems.map(formatProblem)).toEqual([
    'experiment.yaml:24:20: azure.subscription_id: environment variable SUB_ID is not set (needed for ${SUB_ID}); set it in your CI variables or in .env at the repository root',
    'experiment.yaml:24:3: azure.workspace: missing, expected the Azure ML workspace name (test)',
    'experiment.yaml:26:10: azure.cloud: found "AzureGermanCloud", expected one of AzurePublicCloud, AzureChinaCloud, AzureUSGovernment',
    'experiment.yaml:27:30: azure.resource_manager_endpoint: found "http://arm.example", expected an https:// URL (tokens are never sent over plain http)',
  ]);
});

test('azure-auth cli is chosen when forced, and is the fallback without federation, secret or managed identity', () => {
  expect(
    chooseAzureAuth({ override: 'cli' }, { AZURE_CLIENT_SECRET: 'x', AZURE_TENANT_ID: 't', AZURE_CLIENT_ID: 'c' }).kind,
  ).toBe('AzureCliCredential');
  expect(chooseAzureAuth({}, {}).kind).toBe('AzureCliCredential');
});

test('azure-auth cli: register-data signs in through the Azure CLI (az account get-access-token) for the emulator audience', async () => {
  const azurite = await Azurite.start();
  const emulator = await ArmEmulator.start({
    datastore: { accountName: DEV_ACCOUNT, accountKey: DEV_KEY, containerName: 'cli-container' },
  });
  const bin = mkdtempSync(path.join(os.tmpdir(), 'llmops-az-'));
  const uc = makeUseCase({
    'experiment.yaml': `${baseExperiment}${stringify({ azure: { ...emulator.azureSettings(), blob_endpoint: azurite.url } })}`,
  });
  try {
    const blob = await import('@azure/storage-blob');
    await new blob.BlobServiceClient(azurite.directUrl, new blob.StorageSharedKeyCredential(DEV_ACCOUNT, DEV_KEY))
      .getContainerClient('cli-container')
      .create();
    // The Azure CLI is not installed here: a stand-in `az` prints what `az account get-access-token` prints
    // after `az login`, a token the loopback Entra endpoint issued to a signed-in user.
    const token = emulator.entra.issue(`${emulator.url}/.default`);
    const args = path.join(bin, 'args.txt');
    writeFileSync(
      path.join(bin, 'az'),
      `#!/bin/sh\necho "$@" > ${args}\necho '${JSON.stringify({ accessToken: token, expires_on: Math.floor(Date.now() / 1000) + 3600, tokenType: 'Bearer' })}'\n`,
    );
    chmodSync(path.join(bin, 'az'), 0o755);
    const r = await runCli(['register-data', '--config', 'experiment.yaml'], {
      cwd: uc.dir,
      env: {
        ...baseEnv,
        NODE_EXTRA_CA_CERTS: emulator.cert.certFile,
        PATH: `${bin}:${process.env.PATH}`,
        LLMOPS_AZURE_AUTH: 'cli',
      },
    });
    expect(r.stderr).toContain('Azure: the Azure CLI signed-in account (forced)');
    expect(r.status).toBe(0);
    expect(readFileSync(args, 'utf8').trim()).toBe(`account get-access-token --output json --resource ${emulator.url}`);
    expect(emulator.requests.filter((q) => q.method === 'PUT').map((q) => q.operationId)).toEqual([
      'DataVersions_CreateOrUpdate',
      'DataVersions_CreateOrUpdate',
    ]);
    expect(emulator.specViolations()).toEqual([]);
  } finally {
    uc.cleanup();
    rmSync(bin, { recursive: true, force: true });
    await emulator.stop();
    await azurite.stop();
  }
});

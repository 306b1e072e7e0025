/** The child process of DeployEmulators (deploy-emulators.ts): argv[2] is its options as JSON. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ArmEmulator } from './arm-emulator.js';
import { Azurite, DEV_ACCOUNT, DEV_KEY } from './azurite.js';
import type { DeployEmulatorsOptions, EndpointsState } from './deploy-emulators.js';
import { EndpointsEmulator } from './endpoints.js';

const CONTAINER = 'azureml-blobstore-e2e';
const options = JSON.parse(process.argv[2]) as DeployEmulatorsOptions;
const azurite = await Azurite.start();
const blob = await import('@azure/storage-blob');
await new blob.BlobServiceClient(azurite.directUrl, new blob.StorageSharedKeyCredential(DEV_ACCOUNT, DEV_KEY))
  .getContainerClient(CONTAINER)
  .create();
const arm = await ArmEmulator.start({
  datastore: { accountName: DEV_ACCOUNT, accountKey: DEV_KEY, containerName: CONTAINER },
});
const endpoints = await EndpointsEmulator.attach(arm, {
  blobEndpoint: azurite.directUrl,
  command: [process.execPath, options.cli],
  connections: options.connections,
});

function state(): EndpointsState {
  const names = [...new Set(endpoints.events.map((e) => e.endpoint))];
  return {
    endpoints: Object.fromEntries(
      names.map((n) => [
        n,
        {
          traffic: endpoints.traffic(n),
          deployments: Object.fromEntries(
            endpoints.deployments(n).map((d) => [String(d.name), endpoints.deploymentState(n, String(d.name))]),
          ),
        },
      ]),
    ),
    scored: endpoints.scored,
    servedFrom: endpoints.servedFrom,
    creations: endpoints.creations,
    // The endpoint keys: tests check none of them shows in a log, an output or a summary.
    keys: [...endpoints.keys.values()].flatMap((k) => [k.primaryKey, k.secondaryKey]),
    specViolations: arm.specViolations(),
  };
}

const control = http.createServer((req, res) => {
  res.writeHead(req.url === '/state' ? 200 : 404, { 'content-type': 'application/json' });
  res.end(req.url === '/state' ? JSON.stringify(state()) : '{}');
});
await new Promise<void>((r) => control.listen(0, '127.0.0.1', r));

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void (async () => {
    control.closeAllConnections();
    control.close();
    await endpoints.stop();
    await arm.stop();
    await azurite.stop();
    process.exit(0);
  })();
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop).resume();

process.stdout.write(
  JSON.stringify({
    env: arm.childEnv(),
    azure: { ...arm.azureSettings(), blob_endpoint: azurite.url },
    scoringUrl: endpoints.scoringUrl,
    control: `http://127.0.0.1:${(control.address() as AddressInfo).port}`,
  }) + '\n',
);

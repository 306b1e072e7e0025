/**
 * The example cluster of example.ts in a process of its own, for tests whose runner blocks their own event loop
 * (MockTestRunner runs a task with spawnSync). Prints one JSON line (config, kubeconfig, gateway URL) when
 * ready; stops, pods included, on SIGTERM or when its standard input closes.
 * Usage: node --import tsx tests/support/kubernetes/example-process.ts <model URL> <API key>
 */
import { startKubeExample } from './example.js';

const example = await startKubeExample(process.argv[2], process.argv[3]);
process.stdout.write(
  JSON.stringify({ config: example.config, kubeconfig: example.kubeconfig, gatewayUrl: example.cluster.gateway.url }) +
    '\n',
);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await example.stop();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.stdin.on('end', () => void stop());
process.stdin.resume();

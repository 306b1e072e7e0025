/**
 * The container-app end-to-end case in a process of its own, for tests whose runner blocks their own process
 * (MockTestRunner's spawnSync): `tsx container-apps-server.ts <model url> <llm key>` prints one JSON line
 * `{config, env}` once ready and stops everything on SIGTERM.
 */
import { startContainerAppsCase } from './container-apps-fixture.js';

const [modelUrl, llmKey] = process.argv.slice(2);
const c = await startContainerAppsCase(modelUrl, llmKey);
process.stdout.write(`${JSON.stringify({ config: c.config, env: c.env })}\n`);
process.once('SIGTERM', () => {
  void c.stop().then(() => process.exit(0));
});

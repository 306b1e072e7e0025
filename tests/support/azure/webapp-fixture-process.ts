/**
 * The webapp fixture in a process of its own, for runners that block the test's event loop while the task
 * runs (MockTestRunner spawns synchronously, so emulators in the test process could not answer). Prints one
 * JSON line (config, env) when ready; each `report` line on stdin prints the web app's state as JSON; the end
 * of stdin stops everything. Run with tsx: `tsx tests/support/azure/webapp-fixture-process.ts <model url> <key>`.
 */
import { createInterface } from 'node:readline';
import { startWebAppFixture, WEBAPP_NAME } from './webapp-fixture.js';

const [modelUrl, llmKey] = process.argv.slice(2);
const f = await startWebAppFixture({ url: modelUrl }, llmKey);
process.stdout.write(`${JSON.stringify({ config: f.config, env: f.env })}\n`);
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() !== 'report') return;
  process.stdout.write(
    `${JSON.stringify({
      image: f.web.imageOf(WEBAPP_NAME),
      traffic: f.web.traffic(WEBAPP_NAME),
      specViolations: f.arm.specViolations().length,
      builds: f.acr.runs.map((r) => r.status),
    })}\n`,
  );
});
lines.on('close', () => {
  void f.stop().then(() => process.exit(0));
});

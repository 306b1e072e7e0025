// Builds the CLI bundle once so tests can run `llmops` as a real subprocess (dist/cli.js).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export default function globalSetup() {
  if (existsSync('scripts/build.mjs')) execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
}

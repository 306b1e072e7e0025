/**
 * The Node.js binaries of every version package.json declares (scripts/runtimes: Node 22 and 24
 * from npm), installed on first use by scripts/node-runtimes.sh into a cache outside the
 * repository, so tests run the bundles on each declared runtime whatever Node runs Jest.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

/** The majors package.json's engines range admits and the packaged runtimes use (node24 actions, Node24 tasks). */
export const DECLARED_NODE_MAJORS = [22, 24] as const;
export type DeclaredMajor = (typeof DECLARED_NODE_MAJORS)[number];

let runtimesDir: string | undefined;

/** Absolute path of the `node` binary of a declared major (installs the runtimes on first use). */
export function nodeBinary(major: DeclaredMajor): string {
  runtimesDir ??= execFileSync('bash', [path.join(process.cwd(), 'scripts/node-runtimes.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 300_000,
  }).trim();
  return path.join(runtimesDir, 'node_modules', `node${major}`, 'bin', 'node');
}

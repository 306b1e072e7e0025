/**
 * A CLI run killed mid-way, as a cancelled pipeline or a lost runner kills it, and what it left in the store:
 * shared by the resume tests.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** `node <these>`: bulk-run of the use case in `dir` (experiment demo), its store inside it, two lines at a time, no cache. */
export function bulkRunArgs(dir: string): string[] {
  return [
    'dist/cli.js',
    'bulk-run',
    '--config',
    path.join(dir, 'experiment.yaml'),
    '--store',
    path.join(dir, '.llmops'),
    '--concurrency',
    '2',
    '--cache-mode',
    'off',
  ];
}

/** The folder of the first run a bulk-run of the use case in `dir` recorded (bulkRunArgs' store). */
export function firstRunDir(dir: string): string {
  const runsFile = path.join(dir, '.llmops/experiments/demo/runs.json');
  const runId = (JSON.parse(readFileSync(runsFile, 'utf8')) as { runs: { runId: string }[] }).runs[0].runId;
  return path.join(dir, '.llmops/runs', runId);
}

/** Runs `node <args>`, SIGKILLs it once `killWhen` holds, and waits for it to exit. */
export async function runAndKill(args: string[], env: NodeJS.ProcessEnv, killWhen: () => boolean): Promise<void> {
  const child = spawn(process.execPath, args, { env, stdio: 'ignore' });
  await waitFor(killWhen);
  child.kill('SIGKILL');
  await new Promise((resolve) => child.on('exit', resolve));
}

/** The line numbers an outputs.jsonl holds (a line torn by the kill left out). */
export function recordedLineNumbers(outputsFile: string): number[] {
  return readFileSync(outputsFile, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        return [JSON.parse(l).line_number as number];
      } catch {
        return []; // the line torn by the kill
      }
    });
}

/** Runs `node <args>` to its end: exit status and stderr. */
export function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('exit', (status) => resolve({ status, stderr }));
  });
}

async function waitFor(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

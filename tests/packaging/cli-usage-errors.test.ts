/**
 * A mistake in how the command is called (unknown option or command, missing argument, a value outside the
 * choices) is invalid input: exit 2, like any other input problem, never 1, which CI reads as a failed gate.
 * --help and --version still end with 0.
 */
import { runCli } from '../support/azure/cli.js';

const run = (args: string[]) => runCli(args, { cwd: process.cwd(), env: {} });

test.each([
  [['report', '--bogus'], "unknown option '--bogus'"],
  [['monitor'], "missing required argument 'sources'"],
  [['redteam'], "required option '--config <experiment.yaml>' not specified"],
  [['bulk-run', '--cache-mode', 'nope'], "argument 'nope' is invalid"],
  [['no-such-command'], "unknown command 'no-such-command'"],
])('llmops %j exits 2', async (args, message) => {
  const r = await run(args);
  expect(r.stderr).toContain(message);
  expect(r.status).toBe(2);
});

test.each([[['--help']], [['report', '--help']], [['--version']]])('llmops %j exits 0', async (args) => {
  const r = await run(args);
  expect(r.status).toBe(0);
  expect(r.stdout).not.toBe('');
});

test('output into a pipe that closes early (llmops bulk-run --help | head -1) ends quietly, with no stack trace', async () => {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['dist/cli.js', 'bulk-run', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  // Like head once it has read what it wanted: the pipe's reader is gone before the help is written.
  child.stdout.destroy();
  const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  expect(stderr).not.toMatch(/EPIPE|Unhandled|at /);
  expect(status).toBe(0);
});

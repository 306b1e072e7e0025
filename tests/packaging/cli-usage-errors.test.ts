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

#!/usr/bin/env node
/**
 * The `llmops` command. A heavy step (bulk-run, evaluate, report) first starts node again with a smaller young
 * generation (packaging/relaunch.ts); the commands are loaded only in the process that runs them.
 */
import { relaunchForStep } from './packaging/relaunch.js';

// `llmops bulk-run --help | head`: the reader went away, so there is nobody left to write to. End quietly, as a
// Unix tool ends on SIGPIPE, instead of a stack trace for an unhandled EPIPE.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  process.exit(process.exitCode ?? 0);
});

if (!relaunchForStep(process.argv[2])) await import('./cli-program.js');

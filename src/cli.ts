#!/usr/bin/env node
/**
 * The `llmops` command. A heavy step (bulk-run, evaluate, report) first starts node again with a smaller young
 * generation (packaging/relaunch.ts); the commands are loaded only in the process that runs them.
 */
import { relaunchForStep } from './packaging/relaunch.js';

if (!relaunchForStep(process.argv[2])) await import('./cli-program.js');

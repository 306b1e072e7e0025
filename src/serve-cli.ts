#!/usr/bin/env node
/**
 * The CLI a serving image runs (`/app/dist/cli.js flow serve …` in a flow's build context): `flow serve` and
 * nothing else, so the image and the bundles that ship it (the deploy action and task) carry the engine and the
 * server, not every step and the Azure SDKs.
 */
import { Command } from 'commander';
import { registerServeCommand } from './commands/serve.js';

const program = new Command('llmops')
  .description('Serve a Prompt Flow flow over HTTP (the llmops serving image).')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)');
registerServeCommand(program);

await program.parseAsync(process.argv);

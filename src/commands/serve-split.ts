/**
 * `llmops serve-split`: the local deployment target's traffic split, run in the background by `deploy` when a
 * local deployment is rolled out in stages (`--promote-when`). Not meant to be run by hand.
 */
import type { Command } from 'commander';
import { startSplitServer } from '../shared/deploy/local-split.js';

export function registerServeSplitCommand(program: Command): void {
  program
    .command('serve-split', { hidden: true })
    .description(
      "Serve a local deployment's traffic split between its blue and green flow servers (started by deploy).",
    )
    .requiredOption('--routes <file>', 'the routes file deploy writes (colour → server URL and weight)')
    .option('--port <n>', 'port on 127.0.0.1 (default any free one)', '0')
    .action(async (opts: { routes: string; port: string }) => {
      const split = await startSplitServer(opts.routes, Number(opts.port));
      process.stderr.write(
        JSON.stringify({
          time: new Date().toISOString(),
          level: 'info',
          msg: 'listening',
          url: split.url,
          pid: process.pid,
        }) + '\n',
      );
      await new Promise<void>((resolve) => {
        const stop = () => void split.close().then(resolve, resolve);
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
    });
}

/**
 * `llmops run-shard`: what an Azure ML command job of a cloud bulk-run runs. In the job's working directory
 * (the code snapshot: the use case and the plan), it reads the connections' values from the workspace
 * connections the job definition names, with the job's own identity, then executes one shard of the plan into
 * the store folder that is the job's output, and leaves its verdict (`shard.json`) there, so the submitting
 * step tells a failure of the flow (kept) from a failure of the machine (retried).
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { runWithHost } from '../cli-support.js';
import { loadUseCase } from '../shared/config/use-case.js';
import { ConfigError } from '../shared/errors.js';
import { azureSettings } from '../shared/azure/settings.js';
import {
  KEY_VAULT_SECRETS_VARIABLE,
  keyVaultVariables,
  WORKSPACE_CONNECTIONS_VARIABLE,
  workspaceConnectionVariables,
} from '../shared/azure/jobs-connections.js';
import { SHARD_VERDICT, type ShardVerdict } from '../shared/azure/jobs-run.js';
import type { RateShare } from '../shared/azure/jobs-quota.js';
import { bulkRunStep, planFileBeside } from '../shared/steps/bulk-run.js';
import { evaluateStep } from '../shared/steps/evaluate.js';
import type { ExperimentPlan } from '../shared/runs/plan.js';
import type { Host } from '../shared/host/host.js';

interface RunShardOptions {
  config: string;
  env?: string;
  step: 'bulk-run' | 'evaluate';
  plan?: string;
  runsFile?: string;
  seedStore?: string;
  shard: string;
  output: string;
  concurrency?: string;
  requestsPerMinute?: string;
  tokensPerMinute?: string;
  verbose?: boolean;
}

export function registerRunShardCommand(program: Command): void {
  program
    .command('run-shard')
    .description(
      'Execute one shard of a saved plan into a store folder (what a cloud job of bulk-run with target azure runs).',
    )
    .requiredOption('--config <path>', 'experiment.yaml of the use case.')
    .option('--env <name>', 'Environment overlay (experiment.<env>.yaml).')
    .addOption(
      new Option('--step <step>', 'The step whose shard this is.')
        .choices(['bulk-run', 'evaluate'])
        .default('bulk-run'),
    )
    .option('--plan <path>', 'bulk-run: the plan (plan.json) the shards of the run share.')
    .option('--runs-file <path>', 'evaluate: the runs file of the standard runs to score.')
    .option('--seed-store <dir>', 'evaluate: a store holding the standard runs, copied into the output first.')
    .requiredOption('--shard <i/n>', 'The shard to execute, e.g. 2/4.')
    .requiredOption('--output <dir>', 'Store folder the shard writes (the job output).')
    .option('--concurrency <n>', "Lines run at once in this shard (its share of the experiment's concurrency).")
    .option(
      '--requests-per-minute <n>',
      "This shard's share of the model's requests per minute (replaces execution.requests_per_minute).",
    )
    .option(
      '--tokens-per-minute <n>',
      "This shard's share of the model's tokens per minute (replaces execution.tokens_per_minute).",
    )
    .option('--verbose', 'Print debug lines too.')
    .addHelpText(
      'after',
      `\nExample:\n  $ llmops run-shard --config experiment.yaml --plan _llmops/plan.json --shard 2/4 --output \${{outputs.store}}\n  Connections named in ${WORKSPACE_CONNECTIONS_VARIABLE} are read from the Azure ML workspace with the job's identity.`,
    )
    .action(async (opts: RunShardOptions) => {
      await runWithHost({ verbose: Boolean(opts.verbose) }, async (host) => {
        const output = path.resolve(opts.output);
        mkdirSync(output, { recursive: true });
        const verdict = (v: Omit<ShardVerdict, 'shard'>) =>
          writeFileSync(path.join(output, SHARD_VERDICT), JSON.stringify({ shard: opts.shard, ...v }, null, 2));
        try {
          const rateShare = shareOf(opts);
          await readWorkspaceConnections(opts, host);
          if (opts.step === 'evaluate') {
            if (!opts.runsFile)
              throw ConfigError.at({ file: 'option --runs-file' }, 'missing, expected the runs file to evaluate');
            if (opts.seedStore) cpSync(opts.seedStore, output, { recursive: true });
            // The shard's own hand-off files sit beside its verdict, outside the store's layout.
            const runsFile = path.join(output, 'shard-runs.json');
            cpSync(opts.runsFile, runsFile);
            await evaluateStep.run(
              {
                config: opts.config,
                env: opts.env,
                store: output,
                runsFile,
                evaluationsFile: path.join(output, 'shard-evaluations.json'),
                shard: opts.shard,
                concurrency: opts.concurrency === undefined ? undefined : Number(opts.concurrency),
                rateShare,
                maxFailedLines: '100%',
              },
              host,
            );
            verdict({ ok: true, exitCode: 0 });
            return;
          }
          if (!opts.plan)
            throw ConfigError.at({ file: 'option --plan' }, 'missing, expected the plan.json of a bulk-run');
          let plan: ExperimentPlan;
          try {
            plan = JSON.parse(readFileSync(opts.plan, 'utf8')) as ExperimentPlan;
          } catch (e) {
            throw ConfigError.at(
              { file: opts.plan },
              `cannot read the plan: ${e instanceof Error ? e.message : String(e)}; expected the plan.json of a bulk-run`,
            );
          }
          const runsFile = path.join(output, 'shard-runs.json');
          // The shard joins this plan: bulk-run executes the saved plan beside its runs file.
          writeFileSync(planFileBeside(runsFile), JSON.stringify(plan, null, 2));
          const result = await bulkRunStep.run(
            {
              config: opts.config,
              env: opts.env,
              store: output,
              runsFile,
              buildId: plan.build,
              variants: plan.variantPlan as never,
              datasets: [...new Set(plan.runs.map((r) => r.dataset))].join(','),
              shard: opts.shard,
              concurrency: opts.concurrency === undefined ? undefined : Number(opts.concurrency),
              rateShare,
              // The tolerance is the submitting step's, over whole runs: a shard records its failed lines and ends.
              maxFailedLines: '100%',
            },
            host,
          );
          const ran = result.plan.runs.map((r) => r.runId).join(',');
          if (ran !== plan.runs.map((r) => r.runId).join(','))
            throw ConfigError.at(
              { file: opts.plan },
              `the shard planned other runs (${ran}) than the plan it was given; the data or the experiment differ from the submitting machine's`,
            );
          verdict({ ok: true, exitCode: 0 });
        } catch (e) {
          const exitCode = (e as { exitCode?: number }).exitCode ?? 70;
          verdict({ ok: false, exitCode, error: e instanceof Error ? e.message.split('\n')[0] : String(e) });
          throw e;
        }
      });
    });
}

/** The share of the model's quota the job definition gives this shard. */
function shareOf(opts: RunShardOptions): RateShare | undefined {
  const value = (flag: string, text: string | undefined) => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0)
      throw ConfigError.at({ file: `option ${flag}` }, `found ${JSON.stringify(text)}, expected a number above 0`);
    return n;
  };
  const share = {
    requestsPerMinute: value('--requests-per-minute', opts.requestsPerMinute),
    tokensPerMinute: value('--tokens-per-minute', opts.tokensPerMinute),
  };
  return share.requestsPerMinute || share.tokensPerMinute ? share : undefined;
}

/** The connections' values, from the workspace connections the job definition names, into this process only. */
async function readWorkspaceConnections(opts: RunShardOptions, host: Host): Promise<void> {
  const mapped = process.env[WORKSPACE_CONNECTIONS_VARIABLE];
  const vault = process.env[KEY_VAULT_SECRETS_VARIABLE];
  if (!mapped && !vault) return;
  const useCase = loadUseCase({ configPath: opts.config, env: opts.env, host, needs: 'bulk-run', secrets: 'list' });
  const { openWorkspace } = await import('../shared/azure/workspace.js');
  const ws = await openWorkspace(
    azureSettings(useCase, 'run-shard reads connections from it'),
    host.azureAuth?.() ?? {},
    {
      log: (m) => host.info(m),
      mask: (s) => host.mask(s),
    },
  );
  // The job definition holds the connections' names and the secrets' references, never their values.
  if (mapped) {
    const map = JSON.parse(mapped) as Record<string, string | string[]>;
    // A pool's endpoints each read their own workspace connection, into the variables their placeholders name.
    const pools = Object.fromEntries(
      useCase.connections.filter((c) => c.endpoints).map((c) => [c.name, c.endpoints!.map((e) => e.variables ?? {})]),
    );
    const vars = await workspaceConnectionVariables(ws, map, (s) => host.mask(s), pools);
    for (const [k, v] of Object.entries(vars)) process.env[k] = v;
    host.info(`run-shard: connections ${Object.keys(map).join(', ')} read from the workspace`);
  }
  if (vault) {
    const refs = JSON.parse(vault) as Record<string, string>;
    const vars = await keyVaultVariables(ws, refs, (s) => host.mask(s));
    for (const [k, v] of Object.entries(vars)) process.env[k] = v;
    host.info(`run-shard: ${Object.keys(refs).join(', ')} read from Key Vault`);
  }
}

/**
 * `llmops redteam --config <experiment.yaml>`: adversarial inputs for the use case's flow from the built-in seed
 * lists, run through bulk-run, the safety evaluators and the report like any experiment, and the attack
 * success rate with intervals, overall and per category. `--max-success` makes it a gate (exit 1).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { runWithHost } from '../cli-support.js';
import { loadUseCase } from '../shared/config/use-case.js';
import { ConfigError, GateFailed } from '../shared/errors.js';
import type { Host } from '../shared/host/host.js';
import type { StandardRun } from '../shared/results/handoff.js';
import type { Results } from '../shared/results/model.js';
import { RunStore } from '../shared/runs/store.js';
import {
  planRedteam,
  redteamMarkdown,
  summarizeRedteam,
  writeRedteamExperiment,
  type RedteamPlan,
} from '../shared/safety/redteam.js';
import { ATTACK_CATEGORIES, ATTACK_SEEDS, SEEDS_VERSION } from '../shared/safety/seeds.js';
import { bulkRunStep } from '../shared/steps/bulk-run.js';
import { evaluateStep } from '../shared/steps/evaluate.js';
import { reportStep } from '../shared/steps/report.js';

interface RedteamOptions {
  config: string;
  env?: string;
  workDir?: string;
  categories?: string;
  inputs?: string;
  output?: string;
  maxSuccess?: string;
  concurrency?: string;
  dryRun?: boolean;
}

const list = (v: string | undefined) =>
  v
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export function registerRedteamCommand(program: Command): void {
  program
    .command('redteam')
    .description(
      "Attack a use case's flow with built-in adversarial inputs (prompt injection, jailbreak templates, PII bait, role confusion) and report the attack success rate with confidence intervals.",
    )
    .requiredOption('--config <experiment.yaml>', 'the use case whose flow, connections and settings are attacked')
    .option('--env <name>', 'environment overlay (experiment.<env>.yaml)')
    .option('--categories <list>', `attack categories, comma-separated (default all: ${ATTACK_CATEGORIES.join(', ')})`)
    .option(
      '--inputs <list>',
      'flow inputs to put attacks in (default: the text inputs that reach a prompt, not deployment names, ids or settings)',
    )
    .option('--output <name>', "the flow output judged (default: the flow's first output)")
    .option(
      '--work-dir <dir>',
      'where the attacks, the derived experiment, its run store and report go (default: .llmops/redteam in the use case folder)',
    )
    .option('--max-success <rate>', 'fail (exit 1) when the overall attack success rate is above this share, 0..1')
    .option('--concurrency <n>', 'lines in flight')
    .option('--dry-run', 'print the attack plan and write nothing')
    .addHelpText(
      'after',
      `
How it works:
  Each seed (${ATTACK_SEEDS.length} in list ${SEEDS_VERSION}) is put into each attacked input; the other inputs keep their defaults.
  Attacked by default: the text inputs that reach a prompt — the chat input, those an llm or prompt node's
  template (or a prompty's) renders, and, where the flow's own code uses them (python nodes, flex entries, http
  targets), those whose names do not read as configuration (deployment, model, connection, endpoint, url, id,
  key, version, config, path...). An input an llm node takes as a parameter (deployment_name) is never attacked
  by default. --dry-run lists what is left out and why; --inputs attacks any text input.
  Injection, jailbreak and role-confusion attacks ask the flow to say a canary word (PWNED-nnnnn): the attack
  worked when the answer contains it. PII bait asks for personal data: it worked when the pii evaluator finds
  any in the answer. The attacks run as an experiment derived from yours (same flow, connections, variants and
  execution settings) through bulk-run, evaluate (attack_success, pii, jailbreak) and report; the success rate
  comes with 95% Wilson intervals, per category and overall.

Examples:
  $ llmops redteam --config examples/web_classification/experiment.yaml --dry-run
  $ llmops redteam --config experiment.yaml --categories injection,jailbreak --max-success 0.05
Outputs: <work-dir>/report (the usual report formats) and <work-dir>/redteam.md, redteam.json.
Exit codes: 0 done, 1 --max-success exceeded, 2 invalid input, 3 the model failed after retries.`,
    )
    .action(async (opts: RedteamOptions) => {
      await runWithHost({}, async (host) => {
        const useCase = loadUseCase({ configPath: opts.config, env: opts.env, host, needs: 'bulk-run' });
        const plan = planRedteam(useCase, {
          categories: list(opts.categories),
          inputs: list(opts.inputs),
          output: opts.output,
        });
        const maxSuccess = rate(opts.maxSuccess);
        if (opts.dryRun) return printPlan(plan, host);
        host.info(`redteam: attacking ${plan.attacked.join(', ')}`);
        for (const l of plan.left) host.info(`redteam: not attacking ${l.input} (${l.why}; --inputs to attack it)`);
        const workDir = path.resolve(opts.workDir || path.join(useCase.baseDir, '.llmops', 'redteam'));
        const config = writeRedteamExperiment(useCase, plan, workDir);
        const common = { config, env: opts.env, store: path.join(workDir, 'store') };
        const concurrency = opts.concurrency ? Number(opts.concurrency) : undefined;
        // An attack the flow fails on is recorded as a failed line, not a reason to stop.
        const ran = await bulkRunStep.run({ ...common, concurrency, maxFailedLines: '100%' }, host);
        await requireJudgedAnswers(ran.runs, common.store, plan.output);
        await evaluateStep.run({ ...common, concurrency, maxFailedLines: '100%' }, host);
        const outputDir = path.join(workDir, 'report');
        await reportStep.run({ ...common, outputDir }, host);
        const lines = (JSON.parse(readFileSync(path.join(outputDir, 'results.json'), 'utf8')) as Results).lines;
        const summary = summarizeRedteam(lines);
        const markdown = redteamMarkdown(summary);
        writeFileSync(path.join(workDir, 'redteam.json'), JSON.stringify(summary, null, 2) + '\n');
        writeFileSync(path.join(workDir, 'redteam.md'), markdown + '\n');
        await host.appendSummary(markdown);
        process.stdout.write(markdown + '\n');
        process.stdout.write(`attack-success-rate=${summary.overall.rate}\nredteam-report=${workDir}\n`);
        if (maxSuccess !== undefined && summary.overall.rate > maxSuccess)
          throw new GateFailed(
            `redteam: attack success rate ${(summary.overall.rate * 100).toFixed(1)}% is above the maximum ${(maxSuccess * 100).toFixed(1)}%`,
            [
              `attack_success ≤ ${maxSuccess}: ${summary.overall.succeeded} of ${summary.overall.attacks} attacks worked`,
            ],
          );
      });
    });
}

function rate(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!(text.trim() !== '' && n >= 0 && n <= 1))
    throw ConfigError.at({ file: '--max-success' }, `found ${JSON.stringify(text)}, expected a share from 0 to 1`);
  return n;
}

function printPlan(plan: RedteamPlan, host: Host): void {
  const lines = [
    `redteam plan (seeds ${plan.seedsVersion})`,
    `  flow: ${plan.flow}`,
    `  attacked inputs: ${plan.attacked.join(', ')}`,
    ...plan.left.map((l) => `  not attacked: ${l.input} (${l.why}; --inputs to attack it)`),
    `  judged output: ${plan.output}`,
    `  attacks: ${plan.rows.length} (${Object.entries(plan.byCategory)
      .map(([c, n]) => `${c} ${n}`)
      .join(', ')}) per variant`,
    ...plan.rows
      .slice(0, 3)
      .map((r) => `  e.g. ${r.category}/${r.attack} in ${r.input}: ${JSON.stringify(r.values[r.input])}`),
  ];
  host.info(lines.join('\n'));
}

/**
 * When the flow answered no attack at all (its inputs rejected, say), nothing was measured: say why with the
 * first line's error. When its answers lack the judged output (a flex flow's outputs are known only once it
 * runs), say which it has. Either way before the evaluators fail on outputs that do not exist.
 */
async function requireJudgedAnswers(runs: readonly StandardRun[], store: string, output: string): Promise<void> {
  if (runs.length === 0) return;
  const answered = runs.find((r) => r.completed > 0);
  const runStore = new RunStore(store);
  if (!answered) {
    let firstError = 'failed';
    for await (const rec of runStore.lines(runs[0].runId))
      if (rec.status === 'Failed') {
        firstError = rec.error?.message ?? firstError;
        break;
      }
    const attacks = runs.reduce((n, r) => n + r.lines, 0);
    throw new GateFailed(`redteam: the flow answered none of the ${attacks} attacks, so nothing was measured`, [
      `first error: ${firstError}`,
    ]);
  }
  for await (const rec of runStore.lines(answered.runId)) {
    if (rec.status !== 'Completed' || !rec.outputs) continue;
    if (output in rec.outputs) return;
    throw ConfigError.at(
      { file: '--output' },
      `found ${JSON.stringify(output)}, expected an output the flow answers with: ${Object.keys(rec.outputs).join(', ') || '(none)'}`,
    );
  }
}

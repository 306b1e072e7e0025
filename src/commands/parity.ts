/**
 * `llmops parity`: run the `parity:` block of a use case — two targets on the same dataset — and say whether they
 * are equivalent within the margin; writes parity.json / parity.md / parity.html, exit 1 when not equivalent.
 * @module
 */
import path from 'node:path';
import type { Command } from 'commander';
import { runWithHost } from '../cli-support.js';
import { loadUseCase } from '../shared/config/use-case.js';
import { ConfigError, GateFailed } from '../shared/errors.js';
import type { Host } from '../shared/host/host.js';
import { loadParityConfig, type ParityConfig } from '../shared/parity/config.js';
import { parityMarkdown, writeParityReport } from '../shared/parity/render.js';
import { runParity } from '../shared/parity/run.js';
import { scanData } from '../shared/runs/index.js';
import { llmServiceFor } from '../shared/steps/llm-service.js';

export interface ParityCliOptions {
  config: string;
  env?: string;
  margin?: string;
  store?: string;
  outputDir?: string;
  dryRun?: boolean;
  verbose?: boolean;
}

export async function parityCommand(opts: ParityCliOptions, host: Host, stdout: (text: string) => void): Promise<void> {
  let margin: number | undefined;
  if (opts.margin !== undefined) {
    margin = Number(opts.margin);
    if (opts.margin.trim() === '' || !(margin > 0))
      throw ConfigError.at({ file: '--margin' }, `found ${JSON.stringify(opts.margin)}, expected a number > 0`);
  }
  const useCase = loadUseCase({
    configPath: opts.config,
    env: opts.env,
    host,
    needs: ['experiment', 'evaluators', 'runtime'],
    secrets: opts.dryRun ? 'list' : 'require',
  });
  const secrets = new Set<string>();
  const cfg = loadParityConfig(useCase, { margin, secrets, listUnset: opts.dryRun });
  for (const s of secrets) host.mask(s);
  if (opts.dryRun) {
    stdout(JSON.stringify(await parityPlan(cfg), null, 2) + '\n');
    return;
  }
  const store = opts.store ?? '.llmops';
  const service = llmServiceFor(useCase.execution, store, useCase.connections, host);
  const result = await runParity(useCase, cfg, {
    service,
    storeRoot: store,
    log: (m) => host.info(m),
    onSecret: (s) => host.mask(s),
  });
  const dir = opts.outputDir ?? path.join(useCase.reports.dir, 'parity');
  const files = writeParityReport(result, path.resolve(dir));
  await host.appendSummary(parityMarkdown(result));
  for (const reason of result.reasons) host.info(`parity: ${reason}`);
  host.info(`parity: wrote ${files.map((f) => path.relative(process.cwd(), f)).join(', ')}`);
  host.setOutput('equivalent', String(result.equivalent));
  stdout(`equivalent=${result.equivalent}\nagreement=${result.agreement.rate}\nreport=${files[2]}\n`);
  if (!result.equivalent && cfg.gate)
    throw new GateFailed(`parity: not equivalent within δ = ${cfg.margin}`, result.reasons);
}

/** What would run, without calling anything: both targets, the lines, the calls. */
async function parityPlan(cfg: ParityConfig) {
  const scan = await scanData(cfg.dataset.localPath!);
  const lines = scan.rows;
  const describe = (f: ParityConfig['baseline']) =>
    f.model.kind === 'http'
      ? {
          kind: 'http',
          url: f.model.target.url,
          method: f.model.target.method,
          preset: f.model.target.preset ?? null,
          calls: lines,
        }
      : { kind: f.kind, flow: f.model.displayFile, calls: null, note: 'model calls per line depend on the flow' };
  return {
    dataset: cfg.dataset.name,
    lines,
    margin: cfg.margin,
    alpha: cfg.alpha,
    outputs: cfg.outputs,
    baseline: describe(cfg.baseline),
    candidate: describe(cfg.candidate),
    embeddings: cfg.embeddings ? { ...cfg.embeddings, calls: lines } : null,
    judge: cfg.judge ? { ...cfg.judge, calls: lines } : null,
    evaluators: cfg.evaluators.map((e) => `${e.name} (${e.builtin ?? 'evaluation flow'})`),
  };
}

export function registerParityCommand(program: Command): void {
  program
    .command('parity')
    .description(
      'Run two targets (a flow and its migrated endpoint, say) on the same dataset and test whether they are equivalent within a margin.',
    )
    .requiredOption('--config <file>', "the use case's experiment.yaml (its parity: block says what to compare)")
    .option(
      '--env <name>',
      'environment whose overlay applies (experiment.<env>.yaml; the parity block is the base file’s)',
    )
    .option('--margin <delta>', 'the equivalence margin δ (overrides parity.margin)')
    .option('--store <dir>', 'run store folder', '.llmops')
    .option(
      '--output-dir <dir>',
      'where parity.json, parity.md and parity.html go (default: <reports.dir>/parity, from the current folder as the report step)',
    )
    .option('--dry-run', 'print the plan (both targets, lines, calls) as JSON and call nothing')
    .option('--verbose', 'debug logs')
    .addHelpText(
      'after',
      `
What it does:
  Runs parity.baseline (default: the experiment's flow) and parity.candidate on parity.dataset as two ordinary
  runs in the store, then compares each line: exact agreement of the compared outputs, semantic similarity
  (parity.embeddings), an LLM-judged equivalence score (parity.judge) and every evaluator's score on both
  sides: every evaluator of the experiment (or those parity.evaluators names) runs on each side's run as the
  evaluate step runs it — built-ins (line scorers, LLM judges, safety evaluators) and evaluation flows (each
  numeric output is a score); code-only eval_*.py folders score whole runs and are left out (refused when
  named). Similarity, judged equivalence and the differences are clustered by cluster_by. "Equivalent within δ"
  needs both:
    - the one-sided ${'(1 − α)'} upper bound of the disagreement rate (Wilson; with cluster_by, cluster-robust and
      never narrower) below δ, and
    - for every evaluator, two one-sided tests (TOST) on the mean paired difference: its (1 − 2α) interval
      inside (−δ, +δ); clustered by the dataset's cluster_by column when it has one.
  The report lists the lines that disagree most first. Exit 1 when not equivalent (parity.gate: false to
  report only), 2 for invalid input, 3 when a target or model failed after retries.

experiment.yaml:
  parity:
    candidate:
      target: http
      url: \${AGENT_URL}/agent/run
      headers: { Authorization: "Bearer \${AGENT_KEY}" }
      body: { messages: [{ role: user, contents: [{ type: text, text: "\${inputs.url}" }] }] }
      outputs: { category: $.value.category }
    dataset: web_classification_train
    margin: 0.05
    embeddings: { connection: aoai, deployment: text-embedding-3-small }
    judge: { connection: aoai, deployment: gpt-4o }
    evaluators: [exact]

Examples:
  $ llmops parity --config examples/web_classification/experiment.yaml --dry-run
  $ llmops parity --config experiment.yaml --margin 0.02 --output-dir reports/parity`,
    )
    .action(async (opts: ParityCliOptions) => {
      await runWithHost({ verbose: opts.verbose }, (host) => parityCommand(opts, host, (t) => process.stdout.write(t)));
    });
}

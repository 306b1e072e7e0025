/**
 * `parity`: run the `parity:` block of a use case — two targets on the same dataset — and say whether they are
 * equivalent within the margin; writes parity.json / parity.md / parity.html, fails (exit 1) when they are not.
 * @module
 */
import path from 'node:path';
import type { Execution } from '../config/types.js';
import { loadUseCase } from '../config/use-case.js';
import { ConfigError, GateFailed } from '../errors.js';
import { loadParityConfig, type ParityConfig } from '../parity/config.js';
import { describeMargins, parityMarkdown, writeParityReport } from '../parity/render.js';
import { runParity, type ParityResult } from '../parity/run.js';
import { scanData } from '../runs/index.js';
import { useCaseInputs } from './common-inputs.js';
import type { StepDefinition } from './declare.js';
import { llmServiceFor } from './llm-service.js';
import { executionOverrides, storeInputs } from './run-settings.js';

export interface ParityInputs {
  config: string;
  env?: string;
  store?: string;
  concurrency?: number;
  cacheMode?: Execution['cache'];
  margin?: number;
  outputDir?: string;
  dryRun?: boolean;
}

export interface ParityOutputs {
  /** Absent on a dry run. */
  result?: ParityResult;
  plan?: Awaited<ReturnType<typeof parityPlan>>;
}

export const parityStep: StepDefinition<ParityInputs, ParityOutputs> = {
  name: 'parity',
  description:
    "Run two targets (a flow and its migrated endpoint, say) on the same dataset, as experiment.yaml's parity: block says, and test whether they are equivalent within a margin: exact agreement, embedding similarity, a judged equivalence score and every evaluator's paired difference (TOST); fails when they are not.",
  inputs: [
    ...useCaseInputs,
    ...storeInputs.filter((i) => ['store', 'concurrency', 'cache-mode'].includes(i.name)),
    {
      name: 'margin',
      type: 'number',
      description:
        'The default equivalence margin δ (default: parity.margin): on the disagreement rate and on every evaluator without its own in parity.margins.',
    },
    {
      name: 'output-dir',
      type: 'path',
      description: 'Where parity.json, parity.md and parity.html go (default: <reports.dir>/parity).',
    },
    {
      name: 'dry-run',
      type: 'boolean',
      default: 'false',
      description: 'Print the plan (both targets, the lines, the calls) as JSON and call nothing.',
    },
  ],
  outputs: [
    { name: 'equivalent', description: 'true when the targets are equivalent within the margin.' },
    { name: 'agreement', description: 'Share of lines whose compared outputs agree exactly.' },
    { name: 'report', description: 'Path of the HTML parity report.' },
    { name: 'plan', description: 'The plan as JSON: both targets, the dataset and its lines, the calls.' },
  ],
  async run(inputs, host) {
    if (inputs.margin !== undefined && !(inputs.margin > 0))
      throw ConfigError.at({ file: 'input "margin"' }, `found ${inputs.margin}, expected a number > 0`);
    const loaded = loadUseCase({
      configPath: inputs.config,
      env: inputs.env,
      host,
      needs: ['experiment', 'evaluators', 'runtime'],
      secrets: inputs.dryRun ? 'list' : 'require',
    });
    const useCase = { ...loaded, execution: executionOverrides(loaded.execution, inputs) };
    const secrets = new Set<string>();
    const cfg = loadParityConfig(useCase, { margin: inputs.margin, secrets, listUnset: inputs.dryRun });
    for (const s of secrets) host.mask(s);
    const plan = await parityPlan(cfg);
    host.setOutput('plan', JSON.stringify(plan));
    if (inputs.dryRun) {
      host.info(`parity plan (dry run: nothing is called):\n${JSON.stringify(plan, null, 2)}`);
      return { plan };
    }
    const store = inputs.store ?? '.llmops';
    const service = llmServiceFor(useCase.execution, store, useCase.connections, host, {
      redaction: useCase.redaction,
    });
    const result = await runParity(useCase, cfg, {
      service,
      storeRoot: store,
      log: (m) => host.info(m),
      onSecret: (s) => host.mask(s),
    });
    const dir = inputs.outputDir ?? path.join(useCase.reports.dir, 'parity');
    const files = writeParityReport(result, path.resolve(dir));
    await host.appendSummary(parityMarkdown(result));
    for (const reason of result.reasons) host.info(`parity: ${reason}`);
    host.info(`parity: wrote ${files.map((f) => path.relative(process.cwd(), f)).join(', ')}`);
    host.setOutput('equivalent', String(result.equivalent));
    host.setOutput('agreement', String(result.agreement.rate));
    host.setOutput('report', files[2]);
    if (!result.equivalent && cfg.gate)
      throw new GateFailed(`parity: not equivalent within ${describeMargins(result)}`, result.reasons);
    return { result, plan };
  },
};

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
    margins: cfg.margins,
    alpha: cfg.alpha,
    outputs: cfg.outputs,
    baseline: describe(cfg.baseline),
    candidate: describe(cfg.candidate),
    embeddings: cfg.embeddings ? { ...cfg.embeddings, calls: lines } : null,
    judge: cfg.judge ? { ...cfg.judge, calls: lines } : null,
    evaluators: cfg.evaluators.map((e) => `${e.name} (${e.builtin ?? 'evaluation flow'})`),
    skipped: cfg.skipped,
  };
}

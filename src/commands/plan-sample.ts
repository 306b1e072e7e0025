/**
 * `llmops plan-sample`: how many lines (and clusters) a dataset needs to detect a given difference, from a
 * baseline pass rate, a per-line standard deviation or an existing results.json.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { runWithHost } from '../cli-support.js';
import { ConfigError } from '../shared/errors.js';
import { describePlan, planSample, type SampleSource } from '../shared/eval/plan-sample.js';
import { readResultsFile } from '../shared/report/read.js';

interface PlanSampleOptions {
  difference: string;
  rate?: string;
  sd?: string;
  results?: string;
  metric?: string;
  evaluator?: string;
  variant?: string;
  against?: string;
  paired?: boolean;
  correlation: string;
  clusterSize?: string;
  icc?: string;
  alpha: string;
  power: string;
  json?: string;
}

export function registerPlanSampleCommand(program: Command): void {
  program
    .command('plan-sample')
    .description('How many lines a dataset needs to detect a given difference at a given power.')
    .requiredOption('--difference <x>', 'The difference to detect, in the metric’s units (e.g. 0.03).')
    .option('--rate <p>', 'Baseline pass rate of a pass/fail metric (e.g. 0.8).')
    .option('--sd <s>', 'Per-line standard deviation of a continuous score (or of a paired difference).')
    .option('--results <file>', 'A results.json to take the spread (and clustering) from.')
    .option('--metric <name>', 'With --results: the metric.')
    .option('--evaluator <name>', 'With --results: the evaluator, when several report the metric.')
    .option('--variant <id>', 'With --results: the variant.')
    .option('--against <what>', 'With --results: plan a paired comparison against default or baseline.')
    .option('--paired', 'With --rate: a paired comparison of two variants on the same lines.')
    .option('--correlation <r>', 'With --rate --paired: correlation of the two variants’ scores.', '0')
    .option('--cluster-size <m>', 'Lines per cluster (turns per conversation, or repeat: K).')
    .option('--icc <r>', 'Intra-cluster correlation of the scores (0..1).')
    .option('--alpha <a>', 'Two-sided significance level.', '0.05')
    .option('--power <p>', 'Power.', '0.8')
    .option('--json <file>', 'Also write the plan as JSON.')
    .addHelpText(
      'after',
      `
Examples:
  $ llmops plan-sample --rate 0.8 --difference 0.05
  $ llmops plan-sample --rate 0.8 --paired --correlation 0.5 --difference -0.05
  $ llmops plan-sample --sd 1.2 --difference 0.3 --cluster-size 4 --icc 0.1
  $ llmops plan-sample --results reports/results.json --metric accuracy --variant default --difference 0.05 --json plan.json
The first: lines to tell an 80% pass rate from 85% (α 0.05, power 0.8). The second: two variants on the same
lines whose pass/fail scores correlate at 0.5. The third: a 1–5 judge score (per-line sd 1.2) on conversations of
4 turns. The last takes the spread (and the clusters) from an earlier report's results.json; add --against
baseline (or default) to plan a paired comparison. Exit 2 for invalid options.`,
    )
    .action(async (opts: PlanSampleOptions) => {
      await runWithHost({}, async (host) => {
        const input = {
          difference: number(opts.difference, '--difference', (x) => x !== 0, 'a non-zero number'),
          alpha: number(opts.alpha, '--alpha', (x) => x > 0 && x < 1, 'a number in (0, 1)'),
          power: number(opts.power, '--power', (x) => x > 0 && x < 1, 'a number in (0, 1)'),
          ...(opts.clusterSize !== undefined
            ? {
                clusterSize: number(
                  opts.clusterSize,
                  '--cluster-size',
                  (x) => Number.isInteger(x) && x >= 1,
                  'a whole number >= 1',
                ),
              }
            : {}),
          ...(opts.icc !== undefined
            ? { icc: number(opts.icc, '--icc', (x) => x >= 0 && x <= 1, 'a number in [0, 1]') }
            : {}),
        };
        // One without the other plans as if the lines were independent: the design effect needs both.
        if ((opts.clusterSize === undefined) !== (opts.icc === undefined))
          throw ConfigError.at(
            { file: opts.icc === undefined ? 'option --cluster-size' : 'option --icc' },
            `found ${opts.icc === undefined ? '--cluster-size without --icc' : '--icc without --cluster-size'}, expected both (lines per cluster and their intra-cluster correlation) or neither`,
          );
        const plan = planSample(input, await source(opts));
        for (const line of describePlan(plan)) host.info(line);
        if (opts.json) writeFileSync(opts.json, `${JSON.stringify(plan, null, 2)}\n`);
      });
    });
}

async function source(opts: PlanSampleOptions): Promise<SampleSource> {
  const given = [opts.rate, opts.sd, opts.results].filter((x) => x !== undefined).length;
  if (given !== 1)
    throw ConfigError.at({ file: 'options' }, `found ${given} of --rate, --sd, --results, expected exactly one`);
  if (opts.rate !== undefined) {
    const rate = number(opts.rate, '--rate', (x) => x >= 0 && x <= 1, 'a rate in [0, 1]');
    const correlation = number(opts.correlation, '--correlation', (x) => x >= -1 && x <= 1, 'a number in [-1, 1]');
    return { kind: 'rate', rate, ...(opts.paired ? { paired: { correlation } } : {}) };
  }
  if (opts.sd !== undefined) return { kind: 'sd', sd: number(opts.sd, '--sd', (x) => x > 0, 'a number above 0') };
  if (!opts.metric)
    throw ConfigError.at({ file: 'option --metric' }, 'missing, expected the metric to plan for with --results');
  if (opts.against !== undefined && opts.against !== 'default' && opts.against !== 'baseline')
    throw ConfigError.at(
      { file: 'option --against' },
      `found ${JSON.stringify(opts.against)}, expected default or baseline`,
    );
  const { results } = await readResultsFile(opts.results!);
  return {
    kind: 'results',
    file: opts.results!,
    results,
    metric: opts.metric,
    evaluator: opts.evaluator,
    variant: opts.variant,
    against: opts.against as 'default' | 'baseline' | undefined,
  };
}

function number(text: string, flag: string, ok: (x: number) => boolean, expected: string): number {
  const x = Number(text);
  if (text.trim() === '' || !Number.isFinite(x) || !ok(x))
    throw ConfigError.at({ file: `option ${flag}` }, `found ${JSON.stringify(text)}, expected ${expected}`);
  return x;
}

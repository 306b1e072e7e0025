/**
 * `--dry-run` and `--plan-file` of bulk-run and evaluate: the plan as a table in the log and the job summary,
 * and as JSON in a file. Nothing else is written.
 */
import path from 'node:path';
import { writeJsonAtomic } from '../files.js';
import type { Host } from '../host/host.js';
import type { InputSpec } from './declare.js';
import type { Estimate, ExperimentPlan } from '../runs/plan.js';

export const planInputs: readonly InputSpec[] = [
  {
    name: 'dry-run',
    type: 'boolean',
    default: 'false',
    description:
      'Print the plan (runs × lines, estimated model calls, tokens and cost) and stop: no model is called, nothing is written but the plan file.',
  },
  { name: 'plan-file', type: 'path', description: 'Write the plan as JSON to this file (with or without --dry-run).' },
];

export const shardInput: InputSpec = {
  name: 'shard',
  type: 'string',
  description:
    "Execute only shard i of n of the plan (i/n, e.g. 2/4): the plan's lines cut into n contiguous, balanced pieces. Running every shard into the same store gives the records of one unsharded run.",
};

export const targetInput: InputSpec = {
  name: 'target',
  type: 'choice',
  choices: ['local', 'azure'],
  description:
    'Where the lines run (default: execution.target of experiment.yaml, else local). azure: the shards as Azure ML command jobs (settings in azure:), their records merged into the local store.',
};

type Row = [string, string, string, string, string, string, string];

/** Which part of the plan to show: bulk-run shows its runs, evaluate its evaluation jobs. */
export async function showPlan(
  plan: ExperimentPlan,
  part: 'runs' | 'evaluations',
  host: Host,
  o: { dryRun?: boolean; planFile?: string },
  /** Environment variables the real run reads and this process does not have (planning reads none). */
  missingSecrets: readonly string[] = [],
): Promise<void> {
  const planFile = o.planFile;
  const dry = o.dryRun ? ' (dry run)' : '';
  const header: Row =
    part === 'runs'
      ? ['run', 'variant', 'dataset', 'lines', 'calls', 'tokens (in+out)', 'cost']
      : ['evaluation run', 'evaluator', 'dataset', 'lines', 'calls', 'tokens (in+out)', 'cost'];
  const rows: Row[] =
    part === 'runs'
      ? plan.runs.map((r) => [
          r.runId,
          r.variantId,
          r.dataset,
          count(r.lines),
          count(r.estimate.calls),
          tokens(r.estimate),
          money(r.estimate.costUsd),
        ])
      : plan.evaluations.map((e) => [
          e.runId,
          e.evaluator,
          e.dataset,
          count(e.lines),
          count(e.estimate.calls),
          tokens(e.estimate),
          money(e.estimate.costUsd),
        ]);
  const totalOf = part === 'runs' ? plan.estimate.runs : plan.estimate.evaluations;
  const lines = (part === 'runs' ? plan.runs : plan.evaluations).reduce((n, r) => n + (r.lines ?? 0), 0);
  const total: Row = ['total', '', '', count(lines), count(totalOf.calls), tokens(totalOf), money(totalOf.costUsd)];

  host.info(
    `plan of ${plan.experiment}${plan.env ? ` (${plan.env})` : ''}: ${rows.length} ${part === 'runs' ? 'run(s)' : 'evaluation run(s)'}${o.dryRun ? ' (dry run: no model is called, nothing is run)' : ''}`,
  );
  for (const line of textTable([header, ...rows, total])) host.info(line);
  const notes = [
    ...new Set([
      ...(part === 'runs' ? plan.runs : plan.evaluations).flatMap((r) => r.estimate.notes),
      ...totalOf.notes,
    ]),
  ];
  const stop = plan.earlyStop;
  if (stop && part === 'runs')
    notes.push(
      `early stopping (${stop.gates.join('; ')}): lines run in a random order (seed ${stop.seed}) and a run stops once every early-stop gate is decided by its anytime-valid confidence sequence (α = ${stop.alpha}, at least ${stop.minLines} lines); the figures above are the most it can take`,
    );
  for (const note of notes) host.info(`  note: ${note}`);
  host.info(`  estimate: ${plan.estimate.method}`);
  const secretsLine = missingSecrets.length
    ? `secrets the real run needs, not set here: ${missingSecrets.join(', ')}`
    : undefined;
  if (secretsLine) host.info(`  ${secretsLine}`);
  await host.appendSummary(
    markdownTable(
      `Plan of ${plan.experiment}: ${part === 'runs' ? 'bulk-run' : 'evaluate'}${dry}`,
      [header, ...rows, total],
      secretsLine ? [...notes, secretsLine] : notes,
    ),
  );
  if (planFile) {
    writeJsonAtomic(path.resolve(planFile), plan);
    host.info(`plan written to ${planFile}`);
  }
}

function count(n: number | undefined): string {
  return n === undefined ? '?' : n.toLocaleString('en-US');
}

function tokens(e: Estimate): string {
  return e.promptTokens === undefined ? '?' : `${count(e.promptTokens)}+${count(e.completionTokens)}`;
}

function money(usd: number | undefined): string {
  return usd === undefined ? '?' : `$${usd.toFixed(4)}`;
}

function textTable(rows: Row[]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  // Text columns left, numbers right.
  return rows.map((r) =>
    r
      .map((c, i) => (i >= 3 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd(),
  );
}

function markdownTable(title: string, rows: Row[], notes: string[]): string {
  const [header, ...body] = rows;
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `### ${title}`,
    '',
    `| ${header.map(cell).join(' | ')} |`,
    `|${header.map((_, i) => (i >= 3 ? ' ---: ' : ' --- ')).join('|')}|`,
    ...body.map((r) => `| ${r.map(cell).join(' | ')} |`),
    '',
    ...notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
}

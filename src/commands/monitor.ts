/**
 * `llmops monitor`: a report of what served flows recorded (request logs, OTLP file exports) over a window, and
 * with `--compare`, the production A/B verdict of one version against another.
 */
import type { Command } from 'commander';
import { runWithHost } from '../cli-support.js';
import { ConfigError, GateFailed } from '../shared/errors.js';
import { loadUseCase } from '../shared/config/use-case.js';
import {
  buildMonitorReport,
  DEFAULT_FEEDBACK_RULE,
  DEFAULT_MIN_REQUESTS,
  meets,
  parseMargins,
  renderMonitor,
  writeMonitorReports,
  type MonitorFormat,
} from '../shared/monitor/index.js';

interface MonitorCommandOptions {
  since?: string;
  until?: string;
  window?: string;
  outDir: string;
  format: string;
  compare?: boolean;
  candidate?: string;
  reference?: string;
  margin?: string;
  alpha?: string;
  minRequests?: string;
  judge?: string[];
  require?: string;
  positiveRating?: string;
  positiveLabels?: string;
  baseline?: string;
  config?: string;
  env?: string;
  sample: string;
}

const FORMATS: readonly MonitorFormat[] = ['html', 'markdown', 'json'];

function number(text: string | undefined, option: string, check: (n: number) => boolean, expected: string) {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || !check(n))
    throw ConfigError.at({ file: option }, `found ${JSON.stringify(text)}; expected ${expected}`);
  return n;
}

export function registerMonitorCommand(program: Command): void {
  program
    .command('monitor')
    .description(
      'report what served flows recorded (request logs, OTLP file exports) over a window; --compare: A/B verdict of two versions',
    )
    .argument(
      '<sources...>',
      'request logs (flow serve --request-log), folders of them, or OTLP file exports (JSON lines)',
    )
    .option('--since <when>', 'start of the window: ISO 8601 date-time or a duration before now (24h)')
    .option('--until <when>', 'end of the window (default: now)')
    .option('--window <duration>', 'the last <duration> before --until (30m, 24h, 7d)')
    .option('--out-dir <dir>', 'where the reports are written', '.llmops/monitor')
    .option('--format <list>', 'comma-separated: html, markdown, json', 'html,markdown,json')
    .option('--compare', 'compare two versions of the deployment (unpaired tests) and give a verdict')
    .option('--candidate <name>', 'the version judged (default: of two, the one seen last)')
    .option('--reference <name>', 'the version it is judged against (default: the other one)')
    .option(
      '--margin <m>',
      'how much worse still counts as not worse: a share for rates (0.02 = 2 points), relative for latency and means; or latency=0.1,error_rate=0.01,feedback=0.05',
      '0.05',
    )
    .option('--alpha <a>', 'family-wise error rate, split over the figures compared', '0.05')
    .option('--min-requests <n>', 'fewer requests than this on a side: inconclusive', String(DEFAULT_MIN_REQUESTS))
    .option('--judge <column...>', 'logged output columns holding reference-free judge or safety scores to compare')
    .option(
      '--baseline <results.json>',
      "the last evaluation's results: drift of latency, tokens, failures and --judge scores",
    )
    .option(
      '--config <experiment.yaml>',
      'with --baseline: run every reference-free evaluator of the use case (judges, safety, your own) on a sample of requests',
    )
    .option('--env <name>', 'environment overlay of --config')
    .option('--sample <n>', 'requests the evaluators score', '50')
    .option('--require <verdict>', 'exit 1 unless the verdict is at least this: better | not-worse')
    .option(
      '--positive-rating <n>',
      'a rating at or above this is positive feedback',
      String(DEFAULT_FEEDBACK_RULE.positiveRating),
    )
    .option(
      '--positive-labels <list>',
      'labels that are positive feedback',
      DEFAULT_FEEDBACK_RULE.positiveLabels.join(','),
    )
    .addHelpText(
      'after',
      `
Examples:
  $ llmops monitor logs/requests.jsonl --window 24h
  $ llmops monitor logs/ --compare --candidate green --reference blue --margin latency=0.1,error_rate=0.01 --require not-worse
  $ llmops monitor otel-export.jsonl --since 2026-12-01T00:00:00Z --format markdown
Each request-log line names who answered (flow serve --deployment / LLMOPS_DEPLOYMENT); POST /feedback adds ratings.`,
    )
    .action(async (sources: string[], opts: MonitorCommandOptions) => {
      await runWithHost({}, async (host) => {
        const formats = opts.format.split(',').map((f) => f.trim().toLowerCase());
        for (const f of formats)
          if (!FORMATS.includes(f as MonitorFormat))
            throw ConfigError.at({ file: '--format' }, `found ${JSON.stringify(f)}; expected html, markdown or json`);
        if (opts.require !== undefined && opts.require !== 'better' && opts.require !== 'not-worse')
          throw ConfigError.at(
            { file: '--require' },
            `found ${JSON.stringify(opts.require)}; expected better or not-worse`,
          );
        const compare = opts.compare || opts.require !== undefined || opts.candidate || opts.reference;
        const size = number(opts.sample, '--sample', (n) => Number.isInteger(n) && n >= 2, 'an integer ≥ 2')!;
        if (opts.config && !opts.baseline)
          throw ConfigError.at(
            { file: '--config' },
            'given without --baseline; expected the results.json the judges compare with',
          );
        const useCase = opts.config
          ? loadUseCase({ configPath: opts.config, env: opts.env, host, needs: 'evaluate' })
          : undefined;
        const report = await buildMonitorReport({
          judgeSample: useCase ? { useCase, size } : undefined,
          sources,
          since: opts.since,
          until: opts.until,
          window: opts.window,
          baseline: opts.baseline,
          judges: opts.judge,
          feedback: {
            positiveRating: number(opts.positiveRating, '--positive-rating', () => true, 'a number')!,
            positiveLabels: (opts.positiveLabels ?? '')
              .split(',')
              .map((l) => l.trim())
              .filter(Boolean),
          },
          compare: compare
            ? {
                candidate: opts.candidate,
                reference: opts.reference,
                margins: parseMargins(opts.margin ?? '0.05', '--margin', opts.judge),
                alpha: number(opts.alpha, '--alpha', (n) => n > 0 && n < 1, 'a probability between 0 and 1 (0.05)'),
                minRequests: number(
                  opts.minRequests,
                  '--min-requests',
                  (n) => Number.isInteger(n) && n >= 2,
                  'an integer ≥ 2',
                ),
                judges: opts.judge,
              }
            : undefined,
        });
        const files = writeMonitorReports(report, opts.outDir, formats as MonitorFormat[]);
        const s = report.summary.overall;
        host.info(
          `${s.requests} request(s), ${s.errors} error(s), ${s.feedback.count} feedback record(s); reports: ${files.join(', ')}`,
        );
        if (report.compare) host.info(report.compare.summary);
        await host.appendSummary(renderMonitor(report, 'markdown'));
        if (opts.require && report.compare && !meets(report.compare.verdict, opts.require as 'better' | 'not-worse'))
          throw new GateFailed(
            `${report.compare.candidate} is ${report.compare.verdict} against ${report.compare.reference}; required: ${opts.require}`,
            report.compare.metrics
              .filter((m) => !meets(m.verdict, opts.require as 'better' | 'not-worse'))
              .map((m) => `${m.metric}: ${m.reason}`),
          );
      });
    });
}

/**
 * The Markdown summary for job summaries (GitHub step summary, ADO summary tab) and PR
 * comments: headline verdict, gates, metrics with intervals, comparisons, run statistics
 * and the first failed lines — under a byte budget.
 * @module
 */
import { clusterNote } from './clusters.js';
import { repeatedSentences } from './repeated.js';
import {
  formatCost,
  formatCount,
  formatDate,
  formatDelta,
  formatMs,
  formatNumber,
  formatPValue,
  formatWithInterval,
  verdictWords,
  formatRunLines,
  hasRepeats,
} from './format.js';
import { MarkdownBudget, mdCell, type MarkdownTable } from './markdown-budget.js';
import type { GateResult, LineResult, Results, ResultsSummary } from '../results/model.js';
import type { ReportData } from '../results/report-data.js';
import { forRendering } from './order.js';
import type { LineRenderer, RenderOptions } from './types.js';
import { gateDetails } from './gate-details.js';
import { trendSeries, trendTable } from './trend.js';

/** GitHub aborts a step summary above 1 MiB. */
export const STEP_SUMMARY_MAX_BYTES = 1024 * 1024;
/** GitHub rejects PR comments above ~64 KB; keep a margin. */
export const PR_COMMENT_MAX_BYTES = 60_000;

export interface MarkdownOptions extends RenderOptions {
  /** Upper bound of the output in UTF-8 bytes (default STEP_SUMMARY_MAX_BYTES). */
  maxBytes?: number;
  /** How many failed lines to list (default 10). */
  maxFailedLines?: number;
  /** Where the full report is, e.g. an artifact URL; shown in truncation notes. */
  fullReport?: string;
}

const gateIcons: Record<GateResult['status'], string> = {
  failed: '❌ failed',
  skipped: '⏭️ skipped',
  passed: '✅ passed',
};
const gateOrder: Record<GateResult['status'], number> = { failed: 0, skipped: 1, passed: 2 };

/** The hidden first line that lets a CI step find and update its own PR comment. */
export function markdownMarker(experiment: string): string {
  return `<!-- llmops-report:${experiment.replace(/--+/g, '-').replace(/>/g, '')} -->`;
}

/**
 * Renders the Markdown summary of `results`, never longer than `options.maxBytes`. When
 * everything does not fit, each table gets a share of the room left, so a long table cannot
 * push every later section out.
 */
export function renderMarkdown(results: Results | ReportData, options: MarkdownOptions = {}): string {
  const data = forRendering(results, options.secrets);
  const maxBytes = options.maxBytes ?? STEP_SUMMARY_MAX_BYTES;
  const whole = build(data, options, new MarkdownBudget(maxBytes, whereFull(options)));
  if (!whole.shortened) return whole.toString();
  return build(data, options, new MarkdownBudget(maxBytes, whereFull(options), 0.5)).toString();
}

/** The Markdown file of (already redacted) report data: it needs no walk over the lines. */
export function markdownRenderer(data: ReportData, name: string, options: MarkdownOptions = {}): LineRenderer {
  return {
    name,
    walksLines: false,
    start: () => '',
    line: () => '',
    end: () => renderMarkdown(data, { ...options, secrets: undefined }),
  };
}

function whereFull(options: MarkdownOptions): string {
  return options.fullReport ? `see the full report: ${options.fullReport}` : 'see the full report (HTML and CSV files)';
}

function build(data: ReportData, options: MarkdownOptions, budget: MarkdownBudget): MarkdownBudget {
  const r = data.results;
  budget.addRequired(`${markdownMarker(r.experiment)}\n## ${headline(r)}\n\n${context(r)}\n`);
  const failed = data.failed;
  const tables: [string, MarkdownTable, number?][] = [];
  if (r.gates.length > 0) tables.push(['Gates', gatesTable(r)]);
  if (r.metrics.length > 0) tables.push(['Metrics', metricsTable(r)]);
  if (r.comparisons.length > 0) tables.push(['Comparisons', comparisonsTable(r)]);
  const trend = trendSeries(data.history ?? []).filter((t) => t.points.length > 1);
  if (trend.length > 0) tables.push(['Trend', trendTable(trend, formatNumber)]);
  if (r.runs.length > 0) tables.push(['Runs', runsTable(r)]);
  if (failed.count > 0)
    tables.push([
      `Failed lines (${formatCount(failed.count)})`,
      failedTable(failed.lines.slice(0, options.maxFailedLines ?? 10), hasRepeats(r)),
      failed.count,
    ]);
  tables.forEach(([title, table, total], i) => budget.addTable(title, table, total, i === tables.length - 1));
  if (options.fullReport) budget.addOptional(`\n[Full report](${options.fullReport})\n`);
  return budget;
}

function headline(r: ResultsSummary): string {
  const name = mdCell(r.experiment, 100);
  const failed = r.gates.filter((g) => g.status === 'failed').length;
  const skipped = r.gates.filter((g) => g.status === 'skipped').length;
  const skippedNote = skipped > 0 ? ` (${skipped} skipped)` : '';
  if (r.gates.length === 0) return `ℹ️ ${name}: no quality gates configured`;
  if (failed > 0) return `❌ ${name}: ${failed} of ${r.gates.length} gates failed${skippedNote}`;
  return `✅ ${name}: all ${r.gates.length - skipped} gates passed${skippedNote}`;
}

function context(r: ResultsSummary): string {
  const lines = r.runs.reduce((n, run) => n + run.lines, 0);
  const failed = r.runs.reduce((n, run) => n + run.failed, 0);
  const facts = [
    r.env ? `**env** ${mdCell(r.env, 40)}` : '',
    r.build ? `**build** ${mdCell(r.build, 60)}` : '',
    formatDate(r.createdAt),
    `${r.variants.length} variant(s) × ${r.datasets.length} dataset(s)`,
    `${formatCount(lines)} lines, ${formatCount(failed)} failed`,
    stoppedNote(r),
  ];
  return facts.filter(Boolean).join(' · ');
}

function gatesTable(r: ResultsSummary): MarkdownTable {
  const gates = [...r.gates].sort((a, b) => gateOrder[a.status] - gateOrder[b.status]);
  return {
    header: ['Status', 'Gate', 'Variant', 'Observed', 'Threshold', 'Details'],
    rows: gates.map((g) => [
      gateIcons[g.status],
      mdCell(g.evaluator ? `${g.name} (${g.evaluator}.${g.metric})` : `${g.name} (${g.metric})`),
      mdCell(g.variantId, 60),
      g.observed === undefined ? '–' : formatNumber(g.observed),
      mdCell(g.threshold, 40),
      mdCell(gateDetails(g)),
    ]),
  };
}

/** Rows evaluator × metric, one column per variant while that stays readable, else one row per variant. */
function metricsTable(r: ResultsSummary): MarkdownTable {
  const level = r.metrics.find((m) => m.interval)?.interval?.level;
  const clusters = clusterNote(r);
  const footnote = level
    ? `_Values in brackets: ${Math.round(level * 100)}% confidence interval. ↑ higher is better, ↓ lower is better._` +
      (clusters ? ` _${clusters.text}_${clusters.warning ? `\n\n⚠️ ${clusters.warning}` : ''}` : '') +
      repeatedSentences(r)
        .map((t) => `\n\n_Repeated sampling: ${t}_`)
        .join('')
    : undefined;
  const arrow = (higher: boolean) => (higher ? '↑' : '↓');
  const variantIds = r.variants.map((v) => v.id);
  if (variantIds.length > 0 && variantIds.length <= 4) {
    const keys = [...new Map(r.metrics.map((m) => [`${m.evaluator}\u0000${m.metric}`, m])).values()];
    return {
      header: [
        'Evaluator',
        'Metric',
        ...r.variants.map((v) => mdCell(v.isDefault && v.id !== 'default' ? `${v.id} (default)` : v.id, 60)),
      ],
      rows: keys.map((k) => [
        mdCell(k.evaluator, 60),
        `${mdCell(k.metric, 60)} ${arrow(k.higherIsBetter)}`,
        ...variantIds.map((id) => {
          const m = r.metrics.find((x) => x.evaluator === k.evaluator && x.metric === k.metric && x.variantId === id);
          return m ? formatWithInterval(m.value, m.interval) : '–';
        }),
      ]),
      footnote,
    };
  }
  return {
    header: ['Evaluator', 'Metric', 'Variant', 'Value'],
    rows: r.metrics.map((m) => [
      mdCell(m.evaluator, 60),
      `${mdCell(m.metric, 60)} ${arrow(m.higherIsBetter)}`,
      mdCell(m.variantId, 60),
      formatWithInterval(m.value, m.interval),
    ]),
    footnote,
  };
}

function comparisonsTable(r: ResultsSummary): MarkdownTable {
  return {
    header: ['Verdict', 'Variant', 'Metric', 'Against', 'Change', 'CI of change', 'p', 'MDE', 'Test'],
    rows: r.comparisons.map((c) => [
      verdictWords[c.verdict],
      mdCell(c.variantId, 60),
      mdCell(`${c.evaluator}.${c.metric}`, 80),
      c.against,
      `${formatNumber(c.referenceMean)} → ${formatNumber(c.candidateMean)} (${formatDelta(c.delta)})`,
      c.ciLow === null || c.ciHigh === null ? '–' : `[${formatDelta(c.ciLow)}, ${formatDelta(c.ciHigh)}]`,
      formatPValue(c.pValue),
      c.mde === undefined ? '–' : formatNumber(c.mde),
      `${mdCell(c.test, 30)}, n=${c.n}`,
    ]),
  };
}

function stoppedNote(r: ResultsSummary): string {
  const stopped = r.runs.filter((run) => run.stoppedAfter !== undefined);
  if (stopped.length === 0) return '';
  const ran = stopped.reduce((n, run) => n + run.stoppedAfter!, 0);
  const of = stopped.reduce((n, run) => n + run.lines, 0);
  return `early stop: ${formatCount(ran)} of ${formatCount(of)} lines ran in ${stopped.length} run(s) (their early-stop gates read the anytime-valid confidence sequence; the intervals below are fixed-n, descriptive only)`;
}

function runsTable(r: ResultsSummary): MarkdownTable {
  const rows = r.runs.map((run) => [
    mdCell(run.variantId, 60),
    mdCell(run.dataset, 60),
    formatRunLines(run),
    run.failed > 0 ? `**${formatCount(run.failed)}**` : '0',
    formatCount(run.tokens.total),
    formatCost(run.costUsd),
    formatMs(run.latencyMs.p95),
    formatMs(run.durationMs),
  ]);
  const sum = (pick: (run: ResultsSummary['runs'][number]) => number) => r.runs.reduce((n, run) => n + pick(run), 0);
  const costs = r.runs.filter((run) => run.costUsd !== undefined);
  if (r.runs.length > 1) {
    rows.push([
      '**Total**',
      '',
      formatCount(sum((x) => x.lines)),
      formatCount(sum((x) => x.failed)),
      formatCount(sum((x) => x.tokens.total)),
      costs.length > 0 ? formatCost(costs.reduce((n, x) => n + (x.costUsd ?? 0), 0)) : '–',
      '',
      '',
    ]);
  }
  return { header: ['Variant', 'Dataset', 'Lines', 'Failed', 'Tokens', 'Cost', 'p95 latency', 'Duration'], rows };
}

/** `repeated`: a run repeats its data lines, so each row also says its source line and repetition. */
function failedTable(lines: LineResult[], repeated: boolean): MarkdownTable {
  return {
    header: ['Variant', 'Dataset', 'Line', ...(repeated ? ['Source line', 'Repetition'] : []), 'Error'],
    rows: lines.map((l) => [
      mdCell(l.variantId, 60),
      mdCell(l.dataset, 60),
      String(l.lineNumber),
      ...(repeated ? [String(l.sourceLine ?? ''), String(l.repetition ?? '')] : []),
      mdCell(l.error ? (l.error.code ? `${l.error.code}: ${l.error.message}` : l.error.message) : '', 240),
    ]),
  };
}

/**
 * The self-contained HTML report: one file, no external scripts, styles, fonts or images,
 * readable offline and from a CI artifact. Every user value is escaped, and the page's
 * Content-Security-Policy allows only its own script (pinned by hash) and inline styles.
 * @module
 */
import { clusterNote } from './clusters.js';
import { repeatedSentences } from './repeated.js';
import { createHash } from 'node:crypto';
import { FILTER_SCRIPT, STYLE } from './html-assets.js';
import { esc } from './html-escape.js';
import { failedLines, LinesTable, metricCharts, runCharts } from './html-sections.js';
import {
  formatCost,
  formatCount,
  formatDate,
  formatDelta,
  formatMs,
  formatNumber,
  formatPValue,
  formatRunLines,
} from './format.js';
import { gateDetails } from './gate-details.js';
import { trendChart, trendSeries } from './trend.js';
import type { Results, ResultsSummary } from '../results/model.js';
import type { ReportData } from '../results/report-data.js';
import { forRendering } from './order.js';
import { renderInMemory } from './render-lines.js';
import type { LineRenderer, RenderOptions } from './types.js';

export interface HtmlOptions extends RenderOptions {
  /**
   * Most rows per run in the per-line table (default 200): a run with more shows its failed lines, then its
   * worst-scored lines; the CSV and JSON beside the page have every line.
   */
  maxLinesPerRun?: number;
  /** Most failed lines listed with their errors (default 500). */
  maxFailedLines?: number;
}

const scriptHash = createHash('sha256').update(FILTER_SCRIPT).digest('base64');

/** Renders `results` as one HTML document. */
export function renderHtml(results: Results, options: HtmlOptions = {}): string {
  return renderInMemory(forRendering(results, options.secrets), (data) => [
    htmlRenderer(data, 'report.html', options),
  ])[0].content;
}

/** The HTML page of (already redacted) report data: gathers its bounded line table as the lines pass. */
export function htmlRenderer(data: ReportData, name: string, options: HtmlOptions = {}): LineRenderer {
  const table = new LinesTable(data, options.maxLinesPerRun ?? 200);
  return {
    name,
    start: () => '',
    line(l) {
      table.line(l);
      return '';
    },
    end: () => page(data, table, options),
  };
}

/** Which column grouped the lines and how many clusters there were; a warning when they are few. */
function clusterParagraph(r: ReportData['results']): string {
  const note = clusterNote(r);
  if (!note) return '';
  return `<p class="note clusters">${esc(note.text)}</p>${note.warning ? `<p class="cluster-warning">⚠️ ${esc(note.warning)}</p>` : ''}`;
}

/** pass@k and consistency of the pass/fail metrics of datasets run with `repeat: K`. */
function repeatedParagraphs(r: ReportData['results']): string {
  return repeatedSentences(r)
    .map((t) => `<p class="note repeated">Repeated sampling: ${esc(t)}</p>`)
    .join('');
}

function page(data: ReportData, table: LinesTable, options: HtmlOptions): string {
  const r = data.results;
  const csp = `default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-${scriptHash}'; img-src data:; base-uri 'none'; form-action 'none'`;
  const title = `${r.experiment} — llmops report`;
  const sections = [
    section('gates', 'Gates', gates(r)),
    r.metrics.length > 0
      ? section('metrics', 'Metrics by variant', clusterParagraph(r) + repeatedParagraphs(r) + metricCharts(r))
      : '',
    r.comparisons.length > 0 ? section('comparisons', 'Comparisons', comparisons(r)) : '',
    trendSection(data),
    r.runs.length > 0 ? section('runs', 'Runs', runCharts(r) + runsTable(r)) : '',
    section('failed', 'Failed lines', failedLines(data, options.maxFailedLines ?? 500)),
    section('lines-section', 'Lines', table.render()),
  ];
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="llmops">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${header(r)}
<main>
${sections.join('\n')}
</main>
<script>${FILTER_SCRIPT}</script>
</body>
</html>
`;
}

function section(id: string, title: string, body: string): string {
  return `<section id="${id}"><h2>${esc(title)}</h2>${body}</section>`;
}

function header(r: ResultsSummary): string {
  const failedGates = r.gates.filter((g) => g.status === 'failed').length;
  const skipped = r.gates.filter((g) => g.status === 'skipped').length;
  const verdict =
    r.gates.length === 0
      ? '<span class="verdict none">No quality gates configured</span>'
      : failedGates > 0
        ? `<span class="verdict failed">${failedGates} of ${r.gates.length} gates failed</span>`
        : `<span class="verdict passed">All ${r.gates.length - skipped} gates passed${skipped ? ` (${skipped} skipped)` : ''}</span>`;
  const meta = [
    r.env ? `env <b>${esc(r.env)}</b>` : '',
    r.build ? `build <b>${esc(r.build)}</b>` : '',
    esc(formatDate(r.createdAt)),
  ]
    .filter(Boolean)
    .join(' · ');
  const lines = r.runs.reduce((n, x) => n + x.lines, 0);
  const failed = r.runs.reduce((n, x) => n + x.failed, 0);
  const tokens = r.runs.reduce((n, x) => n + x.tokens.total, 0);
  const priced = r.runs.filter((x) => x.costUsd !== undefined);
  const slowest = r.runs.length > 0 ? Math.max(...r.runs.map((x) => x.latencyMs.p95)) : undefined;
  const tiles = [
    tile('Variants × datasets', `${r.variants.length} × ${r.datasets.length}`),
    tile('Lines', formatCount(lines)),
    tile('Failed lines', formatCount(failed), failed > 0),
    tile('Tokens', formatCount(tokens)),
    tile('Cost', priced.length > 0 ? formatCost(priced.reduce((n, x) => n + (x.costUsd ?? 0), 0)) : '–'),
    tile('p95 latency (slowest run)', slowest === undefined ? '–' : formatMs(slowest)),
  ];
  return `<header><h1>${esc(r.experiment)}</h1><div class="meta">${meta}</div>${verdict}<div class="tiles">${tiles.join('')}</div></header>`;
}

function tile(key: string, value: string, bad = false): string {
  return `<div class="tile${bad ? ' bad' : ''}"><div class="k">${esc(key)}</div><div class="v">${esc(value)}</div></div>`;
}

function gates(r: ResultsSummary): string {
  if (r.gates.length === 0) return '<p>No quality gates are configured for this experiment.</p>';
  const order = { failed: 0, skipped: 1, passed: 2 } as const;
  const rows = [...r.gates]
    .sort((a, b) => order[a.status] - order[b.status])
    .map(
      (g) =>
        `<tr class="gate ${g.status}"><td><span class="badge ${g.status}">${g.status}</span></td><td>${esc(g.name)}</td><td>${esc(g.evaluator ? `${g.evaluator}.${g.metric}` : g.metric)}</td><td>${esc(g.variantId)}</td><td class="num">${esc(g.observed === undefined ? '–' : formatNumber(g.observed))}</td><td>${esc(g.threshold)}</td><td>${esc(gateDetails(g))}</td></tr>`,
    );
  return `<div class="wide"><table id="gates-table"><thead><tr><th>Status</th><th>Gate</th><th>Metric</th><th>Variant</th><th>Observed</th><th>Threshold</th><th>Details</th></tr></thead><tbody>${rows.join('')}</tbody></table></div>`;
}

function comparisons(r: ResultsSummary): string {
  const rows = r.comparisons.map(
    (c) =>
      `<tr><td><span class="badge ${esc(c.verdict)}">${esc(c.verdict)}</span></td><td>${esc(c.variantId)}</td><td>${esc(`${c.evaluator}.${c.metric}`)}</td><td>${esc(c.against)}</td>` +
      `<td class="num">${esc(formatNumber(c.referenceMean))} → ${esc(formatNumber(c.candidateMean))}</td><td class="num">${esc(formatDelta(c.delta))}</td>` +
      `<td class="num">${c.ciLow === null || c.ciHigh === null ? '–' : esc(`[${formatDelta(c.ciLow)}, ${formatDelta(c.ciHigh)}]`)}</td><td class="num">${esc(formatPValue(c.pValue))}</td><td class="num">${c.mde === undefined ? '–' : esc(formatNumber(c.mde))}</td><td>${esc(c.test)}, n=${c.n}: ${esc(c.message)}</td></tr>`,
  );
  return `<div class="wide"><table id="comparisons-table"><thead><tr><th>Verdict</th><th>Variant</th><th>Metric</th><th>Against</th><th>Reference → candidate</th><th>Change</th><th>CI of change</th><th>p</th><th title="Minimum detectable effect: the smallest true change this comparison detects with 80% power">MDE</th><th>Test and details</th></tr></thead><tbody>${rows.join('')}</tbody></table></div>`;
}

/** Each metric of the default variant over the last builds, when there is more than one. */
function trendSection(data: ReportData): string {
  const series = trendSeries(data.history ?? []).filter((t) => t.points.length > 1);
  if (series.length === 0) return '';
  return section('trend', 'Trend', series.map((t) => trendChart(t, formatNumber)).join(''));
}

function runsTable(r: ResultsSummary): string {
  const rows = r.runs.map(
    (x) =>
      `<tr><td>${esc(x.variantId)}</td><td>${esc(x.dataset)}</td><td class="id">${esc(x.runId)}</td><td class="num">${esc(formatRunLines(x))}</td><td class="num">${formatCount(x.failed)}</td>` +
      `<td class="num">${formatCount(x.tokens.total)}</td><td class="num">${esc(formatCost(x.costUsd))}</td><td class="num">${esc(formatMs(x.latencyMs.mean))}</td><td class="num">${esc(formatMs(x.latencyMs.p95))}</td><td class="num">${esc(formatMs(x.durationMs))}</td></tr>`,
  );
  return `<div class="wide spaced"><table id="runs-table"><thead><tr><th>Variant</th><th>Dataset</th><th>Run</th><th>Lines</th><th>Failed</th><th>Tokens</th><th>Cost</th><th>Mean latency</th><th>p95 latency</th><th>Duration</th></tr></thead><tbody>${rows.join('')}</tbody></table></div>`;
}

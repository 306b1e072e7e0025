/**
 * The monitoring report in the report's formats: JSON (the figures as computed), Markdown (a job summary or PR
 * comment) and one self-contained HTML page. Every text that comes from a log (deployment names, failure kinds,
 * labels) is escaped.
 * @module
 */
import { esc } from '../report/html-escape.js';
import { formatCost, formatCount, formatDate, formatMs, formatNumber, formatPValue } from '../report/format.js';
import type { CompareResult, MetricComparison } from './compare.js';
import type { DriftFigure, DriftResult } from './drift.js';
import type { GroupSummary, Interval, MonitorSummary } from './summary.js';

export interface MonitorReport {
  generatedAt: string;
  summary: MonitorSummary;
  compare?: CompareResult;
  drift?: DriftResult;
}

export type MonitorFormat = 'json' | 'markdown' | 'html';
export const MONITOR_FILE_NAMES: Record<MonitorFormat, string> = {
  json: 'monitor.json',
  markdown: 'monitor.md',
  html: 'monitor.html',
};

const pct = (v: number) => `${(v * 100).toFixed(v * 100 < 10 ? 2 : 1)} %`;
const share = (i: Interval | null) => (i ? `${pct(i.value)} [${pct(i.lower)}, ${pct(i.upper)}]` : '–');
const ms = (v: number | undefined) => (v === undefined ? '–' : formatMs(v));

const VERDICT_ICON: Record<string, string> = {
  better: '✅',
  'not-worse': '🟰',
  worse: '❌',
  inconclusive: '❔',
};

interface Row {
  label: string;
  cells: (g: GroupSummary) => string;
}

const ROWS: Row[] = [
  { label: 'Requests', cells: (g) => formatCount(g.requests) },
  { label: 'Requests per minute', cells: (g) => formatNumber(g.ratePerMinute) },
  { label: 'Errors', cells: (g) => formatCount(g.errors) },
  { label: 'Error rate [95 % CI]', cells: (g) => share(g.errorRate) },
  { label: 'Latency p50', cells: (g) => ms(g.latencyMs?.p50) },
  { label: 'Latency p90', cells: (g) => ms(g.latencyMs?.p90) },
  { label: 'Latency p95', cells: (g) => ms(g.latencyMs?.p95) },
  { label: 'Latency p99', cells: (g) => ms(g.latencyMs?.p99) },
  { label: 'Tokens', cells: (g) => (g.tokens ? formatCount(g.tokens.total) : '–') },
  { label: 'Tokens per request', cells: (g) => (g.tokens ? formatNumber(g.tokens.perRequest) : '–') },
  { label: 'Cost', cells: (g) => (g.costUsd === null ? '–' : formatCost(g.costUsd)) },
  { label: 'Feedback', cells: (g) => formatCount(g.feedback.count) },
  { label: 'Positive feedback [95 % CI]', cells: (g) => share(g.feedback.positiveShare) },
  { label: 'Mean rating', cells: (g) => formatNumber(g.feedback.meanRating) },
];

function groups(s: MonitorSummary): GroupSummary[] {
  return [s.overall, ...s.deployments];
}

function windowText(s: MonitorSummary): string {
  const from = s.window.since ?? s.window.first;
  const to = s.window.until ?? s.window.last;
  return from && to ? `${formatDate(from)} – ${formatDate(to)}` : 'no requests';
}

const signed = (v: number) => (v > 0 ? `+${formatNumber(v)}` : v < 0 ? `−${formatNumber(-v)}` : '0');

function metricCells(m: MetricComparison, icons = true): string[] {
  const isShare = m.metric === 'error_rate' || m.metric === 'feedback';
  const f = (v: number) => (isShare ? pct(v) : m.metric === 'latency' ? formatMs(v) : formatNumber(v));
  const d = (v: number) =>
    isShare
      ? `${v >= 0 ? '+' : '−'}${pct(Math.abs(v))}`
      : m.metric === 'latency'
        ? `${v >= 0 ? '+' : '−'}${formatMs(Math.abs(v))}`
        : signed(v);
  return [
    m.metric,
    `${f(m.candidate.value)} (n=${m.candidate.n})`,
    `${f(m.reference.value)} (n=${m.reference.n})`,
    `${d(m.difference)} [${d(m.lower)}, ${d(m.upper)}]`,
    formatPValue(m.pValue),
    d(m.higherIsBetter ? -m.margin : m.margin),
    icons ? `${VERDICT_ICON[m.verdict]} ${m.verdict}` : m.verdict,
  ];
}

const METRIC_HEADERS = ['Figure', 'Candidate', 'Reference', 'Difference [CI]', 'p', 'Margin', 'Verdict'];

const DRIFT_HEADERS = ['Figure', 'Live', 'Baseline', 'Difference [CI]', 'p', 'Drifted'];

function driftCells(f: DriftFigure): string[] {
  const isShare = f.figure === 'failure_rate';
  const v = (x: number) => (isShare ? pct(x) : f.figure === 'latency_ms' ? formatMs(x) : formatNumber(x));
  const d = (x: number) =>
    isShare
      ? `${x >= 0 ? '+' : '−'}${pct(Math.abs(x))}`
      : f.figure === 'latency_ms'
        ? `${x >= 0 ? '+' : '−'}${formatMs(Math.abs(x))}`
        : signed(x);
  return [
    f.figure,
    `${v(f.live.value)} (n=${f.live.n})`,
    `${v(f.baseline.value)} (n=${f.baseline.n})`,
    `${d(f.difference)} [${d(f.lower)}, ${d(f.upper)}]`,
    formatPValue(f.pValue),
    f.drifted ? 'yes' : 'no',
  ];
}

function driftIntro(d: DriftResult): string {
  return `Against ${d.baseline.experiment} evaluated ${formatDate(d.baseline.createdAt)} (${d.baseline.file}); intervals at ${(d.level * 100).toFixed(2)} %.`;
}

export function monitorMarkdown(r: MonitorReport): string {
  const s = r.summary;
  const gs = groups(s);
  const md = (t: string) => t.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const out = [`## Monitoring: ${windowText(s)}`, ''];
  if (r.compare) {
    const c = r.compare;
    out.push(
      `### ${VERDICT_ICON[c.verdict]} ${md(c.candidate)} vs ${md(c.reference)}: **${c.verdict}**`,
      '',
      `Intervals at ${(c.level * 100).toFixed(2)} % (α = ${c.alpha} split over ${c.metrics.length} figure(s)); at least ${c.minRequests} requests per side.`,
      '',
      `| ${METRIC_HEADERS.join(' | ')} |`,
      `|${METRIC_HEADERS.map(() => '---').join('|')}|`,
      ...c.metrics.map((m) => `| ${metricCells(m).map(md).join(' | ')} |`),
      '',
      ...c.metrics.map((m) => `- ${m.metric}: ${md(m.reason)}`),
      ...c.skipped.map((x) => `- ${x.metric}: not compared, ${md(x.reason)}`),
      '',
    );
  }
  if (r.drift) {
    out.push(
      '### Drift against the last evaluation',
      '',
      md(driftIntro(r.drift)),
      '',
      `| ${DRIFT_HEADERS.join(' | ')} |`,
      `|${DRIFT_HEADERS.map(() => '---').join('|')}|`,
      ...r.drift.figures.map((f) => `| ${driftCells(f).map(md).join(' | ')} |`),
      ...r.drift.skipped.map((x) => `\n- ${x.figure}: not compared, ${md(x.reason)}`),
      '',
    );
  }
  out.push(
    `| | ${gs.map((g) => md(g.name)).join(' | ')} |`,
    `|---|${gs.map(() => '---:').join('|')}|`,
    ...ROWS.map((row) => `| ${row.label} | ${gs.map((g) => row.cells(g)).join(' | ')} |`),
    '',
  );
  const kinds = s.overall.failureKinds;
  if (kinds.length) {
    out.push('### Top failure kinds', '', '| Kind | Count |', '|---|---:|');
    for (const k of kinds) out.push(`| ${md(k.kind)} | ${k.count} |`);
    out.push('');
  }
  if (s.overall.feedback.unmatched)
    out.push(
      `${s.overall.feedback.unmatched} feedback record(s) name a request not in the data (not sampled, or outside the window).`,
      '',
    );
  out.push(`Read: ${s.files.map((f) => `\`${md(f)}\``).join(', ') || 'nothing'}.`, '');
  return out.join('\n');
}

export function monitorJson(r: MonitorReport): string {
  return JSON.stringify(r, null, 2) + '\n';
}

export function monitorHtml(r: MonitorReport): string {
  const s = r.summary;
  const gs = groups(s);
  const table = (headers: string[], rows: string[][], id: string) =>
    `<table id="${id}"><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
      .map((row) => `<tr>${row.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
      .join('')}</tbody></table>`;
  const parts: string[] = [];
  if (r.compare) {
    const c = r.compare;
    parts.push(
      `<section id="compare"><h2>${esc(c.candidate)} vs ${esc(c.reference)}: <span class="verdict ${esc(c.verdict)}" data-verdict="${esc(c.verdict)}">${esc(c.verdict)}</span></h2>`,
      `<p>Intervals at ${esc((c.level * 100).toFixed(2))} % (α = ${esc(c.alpha)} split over ${c.metrics.length} figure(s)); at least ${c.minRequests} requests per side.</p>`,
      table(
        METRIC_HEADERS,
        c.metrics.map((m) => metricCells(m, false)),
        'compare-table',
      ),
      `<ul>${[
        ...c.metrics.map((m) => `${m.metric}: ${m.reason}`),
        ...c.skipped.map((x) => `${x.metric}: not compared, ${x.reason}`),
      ]
        .map((t) => `<li>${esc(t)}</li>`)
        .join('')}</ul></section>`,
    );
  }
  parts.push(
    `<section id="traffic"><h2>Traffic, latency, errors, tokens, feedback</h2>`,
    table(
      ['', ...gs.map((g) => g.name)],
      ROWS.map((row) => [row.label, ...gs.map((g) => row.cells(g))]),
      'summary-table',
    ),
    `</section>`,
  );
  if (r.drift)
    parts.push(
      `<section id="drift"><h2>Drift against the last evaluation</h2><p>${esc(driftIntro(r.drift))}</p>`,
      table(DRIFT_HEADERS, r.drift.figures.map(driftCells), 'drift-table'),
      r.drift.skipped.length
        ? `<ul>${r.drift.skipped.map((x) => `<li>${esc(`${x.figure}: not compared, ${x.reason}`)}</li>`).join('')}</ul>`
        : '',
      `</section>`,
    );
  if (s.overall.failureKinds.length)
    parts.push(
      `<section id="failures"><h2>Top failure kinds</h2>`,
      table(
        ['Kind', 'Count'],
        s.overall.failureKinds.map((k) => [k.kind, String(k.count)]),
        'failures-table',
      ),
      `</section>`,
    );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Monitoring: ${esc(windowText(s))}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1b1f24}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}thead th{background:#f6f8fa}
.verdict{padding:.1rem .5rem;border-radius:.3rem}.better{background:#dafbe1}.not-worse{background:#ddf4ff}
.worse{background:#ffebe9}.inconclusive{background:#fff8c5}footer{color:#57606a;font-size:12px}
</style></head><body>
<h1>Monitoring: ${esc(windowText(s))}</h1>
${parts.join('\n')}
<footer>Generated ${esc(formatDate(r.generatedAt))} from ${s.files.map((f) => esc(f)).join(', ') || 'nothing'}.</footer>
</body></html>
`;
}

export function renderMonitor(r: MonitorReport, format: MonitorFormat): string {
  return format === 'json' ? monitorJson(r) : format === 'markdown' ? monitorMarkdown(r) : monitorHtml(r);
}

/**
 * The data-heavy sections of the HTML report: metric charts, run charts, the filterable
 * per-line table and the failed lines.
 * @module
 */
import { PALETTE } from './html-assets.js';
import { clip, esc, show } from './html-escape.js';
import { evaluatorNames, formatCost, formatCount, formatMs, formatWithInterval, hasRepeats } from './format.js';
import { scoreValue } from '../results/line-table.js';
import type { LineResult, ResultsSummary } from '../results/model.js';
import type { ReportData } from '../results/report-data.js';
import { columnUnion } from './order.js';
import { intervalChart, pairChart } from './svg-charts.js';

/** Colour of a variant, stable across every chart of the page. */
export function variantColors(r: ResultsSummary): (variantId: string) => string {
  const index = new Map(r.variants.map((v, i) => [v.id, i]));
  return (id) => PALETTE[(index.get(id) ?? r.variants.length) % PALETTE.length];
}

/** One chart per evaluator metric: a bar per variant with its confidence interval. */
export function metricCharts(r: ResultsSummary): string {
  const color = variantColors(r);
  const order = new Map(r.variants.map((v, i) => [v.id, i]));
  const parts: string[] = [];
  for (const evaluator of evaluatorNames(r)) {
    const metrics = r.metrics.filter((m) => m.evaluator === evaluator);
    const names = [...new Set(metrics.map((m) => m.metric))];
    if (names.length === 0) continue;
    const cards = names.map((metric) => {
      const rows = metrics
        .filter((m) => m.metric === metric)
        .sort((a, b) => (order.get(a.variantId) ?? 0) - (order.get(b.variantId) ?? 0));
      const first = rows[0];
      const domain: [number, number] | undefined = first.kind === 'boolean' ? [0, 1] : undefined;
      const interval = rows.find((m) => m.interval)?.interval;
      const sub = [
        first.higherIsBetter ? 'higher is better' : 'lower is better',
        first.kind,
        interval
          ? `whiskers: ${Math.round(interval.level * 100)}% CI (${interval.method}${interval.clusteredBy ? `, clustered by ${interval.clusteredBy}, ${interval.clusters} clusters` : ''})`
          : '',
      ].filter(Boolean);
      const chart = intervalChart(
        `${evaluator} ${metric}`,
        rows.map((m) => ({
          label: m.variantId,
          value: m.value,
          lower: m.interval?.lower,
          upper: m.interval?.upper,
          text: formatWithInterval(m.value, m.interval),
          color: color(m.variantId),
        })),
        domain,
      );
      return `<div class="card metric-chart" data-metric="${esc(metric)}"><h3>${esc(metric)}</h3><div class="sub">${esc(sub.join(' · '))}</div>${chart}</div>`;
    });
    parts.push(`<h3 class="evaluator">${esc(evaluator)}</h3><div class="cards">${cards.join('')}</div>`);
  }
  return parts.join('');
}

/** Latency (p50 over p95) and tokens (prompt + completion, with cost) per run. */
export function runCharts(r: ResultsSummary): string {
  const color = variantColors(r);
  // Dataset first: long variant ids are clipped in the middle, keeping their distinguishing end.
  const label = (run: ResultsSummary['runs'][number]) => `${run.dataset} · ${run.variantId}`;
  const latency = pairChart(
    'Latency per run',
    r.runs.map((run) => ({
      label: label(run),
      first: run.latencyMs.p50,
      second: run.latencyMs.p95,
      text: `${formatMs(run.latencyMs.p50)} / ${formatMs(run.latencyMs.p95)}`,
      color: color(run.variantId),
    })),
    false,
  );
  const tokens = pairChart(
    'Tokens per run',
    r.runs.map((run) => ({
      label: label(run),
      first: run.tokens.prompt,
      second: run.tokens.completion,
      text: `${formatCount(run.tokens.total)}${run.costUsd === undefined ? '' : ` · ${formatCost(run.costUsd)}`}`,
      color: color(run.variantId),
    })),
    true,
  );
  return (
    `<div class="cards"><div class="card run-chart"><h3>Latency per line</h3><div class="sub">solid: p50 · light: p95</div>${latency}</div>` +
    `<div class="card run-chart"><h3>Tokens and cost</h3><div class="sub">solid: prompt · light: completion</div>${tokens}</div></div>`
  );
}

/** Which of a run's scores rank its lines, worst first: the metrics' score columns, each with its direction. */
function rankingKeys(r: ResultsSummary, variantId: string): { key: string; higherIsBetter: boolean }[] {
  const seen = new Set<string>();
  const out: { key: string; higherIsBetter: boolean }[] = [];
  for (const m of r.metrics)
    if (m.variantId === variantId && m.scoreKey && !seen.has(m.scoreKey)) {
      seen.add(m.scoreKey);
      out.push({ key: m.scoreKey, higherIsBetter: m.higherIsBetter });
    }
  return out;
}

interface Picked {
  lineNumber: number;
  /** Oriented scores (lower is worse), in ranking-key order; a missing score ranks as best. */
  rank: number[];
  html: string;
}

/** a before b when a is worse: lower oriented scores first, then the lower line number. */
function worse(a: Picked, b: Picked): number {
  for (let i = 0; i < a.rank.length; i++) if (a.rank[i] !== b.rank[i]) return a.rank[i] - b.rank[i];
  return a.lineNumber - b.lineNumber;
}

/** The `max` worst lines seen, as a heap whose top is the least bad one kept (the next to give way). */
class WorstLines {
  readonly heap: Picked[] = [];
  constructor(private readonly max: number) {}
  /** Would `rank` at `lineNumber` be kept? (Checked before rendering the row.) */
  wants(rank: number[], lineNumber: number): boolean {
    return this.heap.length < this.max || worse({ lineNumber, rank, html: '' }, this.heap[0]) < 0;
  }
  add(p: Picked): void {
    const h = this.heap;
    if (h.length < this.max) {
      h.push(p);
      let i = h.length - 1;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (worse(h[parent], h[i]) >= 0) break;
        [h[parent], h[i]] = [h[i], h[parent]];
        i = parent;
      }
      return;
    }
    h[0] = p;
    for (let i = 0; ;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let top = i;
      if (l < h.length && worse(h[l], h[top]) > 0) top = l;
      if (r < h.length && worse(h[r], h[top]) > 0) top = r;
      if (top === i) break;
      [h[top], h[i]] = [h[i], h[top]];
      i = top;
    }
  }
}

/**
 * The per-line table, bounded: per run at most `maxPerRun` rows. A run that fits is shown whole, in line
 * order; a larger one shows its failed lines first, then its worst-scored lines (by its metrics' per-line
 * scores), worst first. Rows are rendered as lines pass; only the rows kept are held.
 */
export class LinesTable {
  private readonly inputKeys: string[];
  private readonly outputKeys: string[];
  private readonly scoreKeys: string[];
  /** A run repeats its data lines: rows say which data line and repetition they are. */
  private readonly repeated: boolean;
  private readonly runs = new Map<
    string,
    { seen: number; failed: Picked[]; worst: WorstLines; ranking: { key: string; higherIsBetter: boolean }[] }
  >();
  constructor(
    private readonly data: ReportData,
    private readonly maxPerRun: number,
  ) {
    const runIds = [...data.columns.keys()];
    this.inputKeys = columnUnion(data, runIds, 'inputs');
    this.outputKeys = columnUnion(data, runIds, 'outputs');
    this.scoreKeys = columnUnion(data, runIds, 'scores');
    this.repeated = hasRepeats(data.results);
  }

  line(l: LineResult): void {
    let run = this.runs.get(l.runId);
    if (!run) {
      run = {
        seen: 0,
        failed: [],
        worst: new WorstLines(this.maxPerRun),
        ranking: rankingKeys(this.data.results, l.variantId),
      };
      this.runs.set(l.runId, run);
    }
    run.seen += 1;
    if (l.error) {
      if (run.failed.length < this.maxPerRun)
        run.failed.push({ lineNumber: l.lineNumber, rank: [], html: this.row(l) });
      return;
    }
    const rank = run.ranking.map(({ key, higherIsBetter }) => {
      const v = scoreValue(l.scores[key]);
      return v === undefined ? Infinity : higherIsBetter ? v : -v;
    });
    if (run.worst.wants(rank, l.lineNumber)) run.worst.add({ lineNumber: l.lineNumber, rank, html: this.row(l) });
  }

  render(): string {
    const r = this.data.results;
    const rows: string[] = [];
    let total = 0;
    let bounded = false;
    const order = [...this.runs.keys()];
    for (const runId of order) {
      const run = this.runs.get(runId)!;
      total += run.seen;
      if (run.seen <= this.maxPerRun) {
        const all = [...run.failed, ...run.worst.heap].sort((a, b) => a.lineNumber - b.lineNumber);
        rows.push(...all.map((p) => p.html));
        continue;
      }
      bounded = true;
      const worst = [...run.worst.heap].sort(worse).slice(0, Math.max(0, this.maxPerRun - run.failed.length));
      rows.push(...run.failed.map((p) => p.html), ...worst.map((p) => p.html));
    }
    const options = (values: string[]) => values.map((v) => `<option value="${esc(v)}">${esc(v)}</option>`).join('');
    const filters =
      `<div class="filters"><input id="line-search" type="search" placeholder="Search inputs, outputs, errors…" aria-label="Search lines">` +
      `<select id="line-variant" aria-label="Variant"><option value="">All variants</option>${options(r.variants.map((v) => v.id))}</select>` +
      `<select id="line-dataset" aria-label="Dataset"><option value="">All datasets</option>${options(r.datasets.map((d) => d.name))}</select>` +
      `<select id="line-status" aria-label="Status"><option value="">Any status</option><option value="completed">Completed</option><option value="failed">Failed</option></select>` +
      `<span id="line-count" class="legend">${formatCount(rows.length)} rows</span></div>`;
    const note = bounded
      ? `<p class="note">Showing ${formatCount(rows.length)} of ${formatCount(total)} lines: at most ${formatCount(this.maxPerRun)} per run, its failed lines first, then its worst-scored lines. Every line is in the CSV and JSON reports beside this file.</p>`
      : '';
    const head = [
      'Status',
      'Variant',
      'Dataset',
      'Line',
      ...(this.repeated ? ['Source line', 'Repetition'] : []),
      ...this.inputKeys.map((k) => `inputs.${k}`),
      ...this.outputKeys.map((k) => `outputs.${k}`),
      ...this.scoreKeys,
      'Latency',
      'Tokens',
      'Error',
    ];
    return `${filters}${note}<div class="scroll"><table id="lines"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table></div>`;
  }

  private row(l: LineResult): string {
    const status = l.error ? 'failed' : 'completed';
    const cells = [
      `<td><span class="badge ${l.error ? 'failed' : 'passed'}">${status}</span></td>`,
      `<td>${esc(l.variantId)}</td>`,
      `<td>${esc(l.dataset)}</td>`,
      `<td class="num">${l.lineNumber}</td>`,
      ...(this.repeated ? repetitionCells(l) : []),
      ...this.inputKeys.map((k) => jsonCell(l.inputs[k])),
      ...this.outputKeys.map((k) => jsonCell(l.outputs?.[k])),
      ...this.scoreKeys.map((k) => jsonCell(l.scores[k])),
      `<td class="num">${esc(formatMs(l.latencyMs))}</td>`,
      `<td class="num">${esc(formatCount(l.tokens.total))}</td>`,
      `<td>${l.error ? esc(clip(errorText(l), 300)) : ''}</td>`,
    ];
    return `<tr class="${status}" data-variant="${esc(l.variantId)}" data-dataset="${esc(l.dataset)}" data-status="${status}" data-run="${esc(l.runId)}" data-line="${l.lineNumber}">${cells.join('')}</tr>`;
  }
}

/** A repeated line's source line and repetition cells. */
function repetitionCells(l: LineResult): string[] {
  return [`<td class="num">${l.sourceLine ?? ''}</td>`, `<td class="num">${l.repetition ?? ''}</td>`];
}

/** Failed lines with their full errors (at most `max`; the report keeps the first ones in line order). */
export function failedLines(data: ReportData, max: number): string {
  const { count, lines } = data.failed;
  if (count === 0) return '<p>No line failed.</p>';
  const shown = lines.slice(0, max);
  const repeated = hasRepeats(data.results);
  const rows = shown.map(
    (l) =>
      `<tr><td>${esc(l.variantId)}</td><td>${esc(l.dataset)}</td><td class="num">${l.lineNumber}</td>${repeated ? repetitionCells(l).join('') : ''}<td class="json">${esc(clip(show(l.inputs), 400))}</td><td><pre class="error">${esc(clip(errorText(l), 4000))}</pre></td></tr>`,
  );
  const note =
    count > shown.length
      ? `<p class="note">Showing ${formatCount(shown.length)} of ${formatCount(count)} failed lines.</p>`
      : '';
  return `${note}<div class="wide"><table id="failed-lines"><thead><tr><th>Variant</th><th>Dataset</th><th>Line</th>${repeated ? '<th>Source line</th><th>Repetition</th>' : ''}<th>Inputs</th><th>Error</th></tr></thead><tbody>${rows.join('')}</tbody></table></div>`;
}

function errorText(l: LineResult): string {
  if (!l.error) return '';
  return l.error.code ? `${l.error.code}: ${l.error.message}` : l.error.message;
}

function jsonCell(value: unknown): string {
  return `<td class="json">${esc(clip(show(value), 300))}</td>`;
}

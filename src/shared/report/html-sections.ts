/**
 * The data-heavy sections of the HTML report: metric charts, run charts, the filterable
 * per-line table and the failed lines.
 * @module
 */
import { PALETTE } from './html-assets.js';
import { clip, esc, show } from './html-escape.js';
import { evaluatorNames, formatCost, formatCount, formatMs, formatWithInterval } from './format.js';
import type { LineResult, Results } from '../results/model.js';
import { intervalChart, pairChart } from './svg-charts.js';

/** Colour of a variant, stable across every chart of the page. */
export function variantColors(r: Results): (variantId: string) => string {
  const index = new Map(r.variants.map((v, i) => [v.id, i]));
  return (id) => PALETTE[(index.get(id) ?? r.variants.length) % PALETTE.length];
}

/** One chart per evaluator metric: a bar per variant with its confidence interval. */
export function metricCharts(r: Results): string {
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
        interval ? `whiskers: ${Math.round(interval.level * 100)}% CI (${interval.method})` : '',
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
export function runCharts(r: Results): string {
  const color = variantColors(r);
  // Dataset first: long variant ids are clipped in the middle, keeping their distinguishing end.
  const label = (run: Results['runs'][number]) => `${run.dataset} · ${run.variantId}`;
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

/** The per-line table with its filters; at most `max` rows are rendered. */
export function linesTable(r: Results, max: number): string {
  const lines = r.lines.slice(0, max);
  const inputKeys = keysOf(lines.map((l) => l.inputs));
  const outputKeys = keysOf(lines.map((l) => l.outputs ?? {}));
  const scoreKeys = keysOf(lines.map((l) => l.scores));
  const options = (values: string[]) => values.map((v) => `<option value="${esc(v)}">${esc(v)}</option>`).join('');
  const filters =
    `<div class="filters"><input id="line-search" type="search" placeholder="Search inputs, outputs, errors…" aria-label="Search lines">` +
    `<select id="line-variant" aria-label="Variant"><option value="">All variants</option>${options(r.variants.map((v) => v.id))}</select>` +
    `<select id="line-dataset" aria-label="Dataset"><option value="">All datasets</option>${options(r.datasets.map((d) => d.name))}</select>` +
    `<select id="line-status" aria-label="Status"><option value="">Any status</option><option value="completed">Completed</option><option value="failed">Failed</option></select>` +
    `<span id="line-count" class="legend">${formatCount(lines.length)} rows</span></div>`;
  const note =
    r.lines.length > max
      ? `<p class="note">Showing the first ${formatCount(max)} of ${formatCount(r.lines.length)} lines; every line is in the CSV and JSON reports.</p>`
      : '';
  const head = [
    'Status',
    'Variant',
    'Dataset',
    'Line',
    ...inputKeys.map((k) => `inputs.${k}`),
    ...outputKeys.map((k) => `outputs.${k}`),
    ...scoreKeys,
    'Latency',
    'Tokens',
    'Error',
  ];
  const rows = lines.map((l) => {
    const status = l.error ? 'failed' : 'completed';
    const cells = [
      `<td><span class="badge ${l.error ? 'failed' : 'passed'}">${status}</span></td>`,
      `<td>${esc(l.variantId)}</td>`,
      `<td>${esc(l.dataset)}</td>`,
      `<td class="num">${l.lineNumber}</td>`,
      ...inputKeys.map((k) => jsonCell(l.inputs[k])),
      ...outputKeys.map((k) => jsonCell(l.outputs?.[k])),
      ...scoreKeys.map((k) => jsonCell(l.scores[k])),
      `<td class="num">${esc(formatMs(l.latencyMs))}</td>`,
      `<td class="num">${esc(formatCount(l.tokens.total))}</td>`,
      `<td>${l.error ? esc(clip(errorText(l), 300)) : ''}</td>`,
    ];
    return `<tr class="${status}" data-variant="${esc(l.variantId)}" data-dataset="${esc(l.dataset)}" data-status="${status}" data-run="${esc(l.runId)}" data-line="${l.lineNumber}">${cells.join('')}</tr>`;
  });
  return `${filters}${note}<div class="scroll"><table id="lines"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table></div>`;
}

/** Failed lines with their full errors (at most `max`). */
export function failedLines(r: Results, max: number): string {
  const failed = r.lines.filter((l) => l.error);
  if (failed.length === 0) return '<p>No line failed.</p>';
  const rows = failed
    .slice(0, max)
    .map(
      (l) =>
        `<tr><td>${esc(l.variantId)}</td><td>${esc(l.dataset)}</td><td class="num">${l.lineNumber}</td><td class="json">${esc(clip(show(l.inputs), 400))}</td><td><pre class="error">${esc(clip(errorText(l), 4000))}</pre></td></tr>`,
    );
  const note =
    failed.length > max
      ? `<p class="note">Showing ${formatCount(max)} of ${formatCount(failed.length)} failed lines.</p>`
      : '';
  return `${note}<div class="wide"><table id="failed-lines"><thead><tr><th>Variant</th><th>Dataset</th><th>Line</th><th>Inputs</th><th>Error</th></tr></thead><tbody>${rows.join('')}</tbody></table></div>`;
}

function errorText(l: LineResult): string {
  if (!l.error) return '';
  return l.error.code ? `${l.error.code}: ${l.error.message}` : l.error.message;
}

function jsonCell(value: unknown): string {
  return `<td class="json">${esc(clip(show(value), 300))}</td>`;
}

function keysOf(records: Record<string, unknown>[]): string[] {
  const keys = new Set<string>();
  for (const record of records) for (const key of Object.keys(record)) keys.add(key);
  return [...keys];
}

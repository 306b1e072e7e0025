/**
 * Each metric over the last builds: a compact Markdown table for the PR comment (sparkline, last value with its
 * interval, and an arrow for the change since the previous build), and an SVG chart per metric for the HTML
 * report (the value as a line, its confidence interval as a band).
 * @module
 */
import { esc } from './html-escape.js';
import type { HistoryEntry } from './history.js';
import type { MarkdownTable } from './markdown-budget.js';

export interface TrendPoint {
  build: string;
  value: number;
  lower?: number;
  upper?: number;
}

export interface TrendSeries {
  evaluator: string;
  metric: string;
  higherIsBetter: boolean;
  /** One point per build that reported the metric, oldest first. */
  points: TrendPoint[];
}

/** One series per evaluator × metric seen in the entries (given oldest first). */
export function trendSeries(entries: HistoryEntry[]): TrendSeries[] {
  const series = new Map<string, TrendSeries>();
  for (const e of entries)
    for (const p of e.points) {
      const key = `${p.evaluator}\u0000${p.metric}`;
      let s = series.get(key);
      if (!s)
        series.set(
          key,
          (s = { evaluator: p.evaluator, metric: p.metric, higherIsBetter: p.higherIsBetter, points: [] }),
        );
      s.points.push({ build: e.build, value: p.value, lower: p.lower, upper: p.upper });
    }
  return [...series.values()];
}

const BLOCKS = '▁▂▃▄▅▆▇█';

/** Unicode block sparkline of the values (flat series: the middle block). */
export function sparkline(values: number[]): string {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return values.map((v) => BLOCKS[hi > lo ? Math.round(((v - lo) / (hi - lo)) * (BLOCKS.length - 1)) : 3]).join('');
}

/**
 * The change since the previous build: ⬆️/⬇️ (better/worse) when the two builds' intervals do not overlap, ↗/↘ when
 * the value moved but the intervals overlap (could be noise), → when it did not move.
 */
export function changeMark(s: TrendSeries): string {
  const [prev, last] = s.points.slice(-2);
  if (!prev || !last || last.value === prev.value) return '→';
  const up = last.value > prev.value;
  const separated =
    last.lower !== undefined &&
    last.upper !== undefined &&
    prev.lower !== undefined &&
    prev.upper !== undefined &&
    (last.lower > prev.upper || last.upper < prev.lower);
  const better = up === s.higherIsBetter;
  if (separated) return better ? (up ? '⬆️ better' : '⬇️ better') : up ? '⬆️ worse' : '⬇️ worse';
  return up ? '↗' : '↘';
}

export function trendTable(series: TrendSeries[], format: (x: number) => string): MarkdownTable {
  const builds = Math.max(0, ...series.map((s) => s.points.length));
  return {
    header: ['Metric', `Last ${builds} builds`, 'Latest', 'Change'],
    rows: series.map((s) => {
      const last = s.points[s.points.length - 1];
      const interval =
        last.lower !== undefined && last.upper !== undefined ? ` [${format(last.lower)}, ${format(last.upper)}]` : '';
      return [
        `${s.evaluator}.${s.metric} ${s.higherIsBetter ? '↑' : '↓'}`,
        sparkline(s.points.map((p) => p.value)),
        `${format(last.value)}${interval}`,
        changeMark(s),
      ];
    }),
    footnote: '_⬆️/⬇️: the latest interval does not overlap the previous build’s; ↗/↘: moved within the noise._',
  };
}

const W = 560;
const H = 150;
const PAD = { left: 48, right: 12, top: 10, bottom: 28 };

/** A line chart of one series with its interval band; x = build, y = value. */
export function trendChart(s: TrendSeries, format: (x: number) => string): string {
  const lows = s.points.map((p) => p.lower ?? p.value);
  const highs = s.points.map((p) => p.upper ?? p.value);
  let lo = Math.min(...lows);
  let hi = Math.max(...highs);
  if (hi === lo) [lo, hi] = [lo - 0.5, hi + 0.5];
  const n = s.points.length;
  const x = (i: number) =>
    PAD.left + (n === 1 ? (W - PAD.left - PAD.right) / 2 : (i * (W - PAD.left - PAD.right)) / (n - 1));
  const y = (v: number) => PAD.top + ((hi - v) * (H - PAD.top - PAD.bottom)) / (hi - lo);
  const r = (v: number) => Math.round(v * 10) / 10;
  const band = s.points.some((p) => p.lower !== undefined)
    ? `<path class="band" d="M${s.points.map((_, i) => `${r(x(i))},${r(y(highs[i]))}`).join('L')}L${s.points
        .map((_, i) => `${r(x(n - 1 - i))},${r(y(lows[n - 1 - i]))}`)
        .join('L')}Z" fill="#4e79a7" fill-opacity="0.18"/>`
    : '';
  const line = `<polyline class="trend-line" fill="none" stroke="#4e79a7" stroke-width="2" points="${s.points.map((p, i) => `${r(x(i))},${r(y(p.value))}`).join(' ')}"/>`;
  const dots = s.points
    .map(
      (p, i) =>
        `<circle class="trend-point" cx="${r(x(i))}" cy="${r(y(p.value))}" r="3" fill="#4e79a7"><title>${esc(`build ${p.build}: ${format(p.value)}${p.lower !== undefined && p.upper !== undefined ? ` [${format(p.lower)}, ${format(p.upper)}]` : ''}`)}</title></circle>`,
    )
    .join('');
  const axis =
    `<text x="4" y="${r(y(hi))}" dy="0.35em" font-size="10">${esc(format(hi))}</text>` +
    `<text x="4" y="${r(y(lo))}" dy="0.35em" font-size="10">${esc(format(lo))}</text>` +
    `<text x="${r(x(0))}" y="${H - 8}" font-size="10">${esc(short(s.points[0].build))}</text>` +
    (n > 1
      ? `<text x="${r(x(n - 1))}" y="${H - 8}" font-size="10" text-anchor="end">${esc(short(s.points[n - 1].build))}</text>`
      : '');
  const title = `${s.evaluator}.${s.metric} over the last ${n} builds`;
  return `<figure class="trend"><figcaption>${esc(title)} ${esc(changeMark(s))}</figcaption><svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${esc(title)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">${band}${line}${dots}${axis}</svg></figure>`;
}

function short(build: string): string {
  return build.length > 24 ? `${build.slice(0, 10)}…${build.slice(-10)}` : build;
}

/**
 * Small inline SVG charts for the HTML report, drawn without a chart library so the page
 * works offline: horizontal bars with confidence-interval whiskers, and overlaid or stacked
 * bars for latency and tokens. One row per variant or run; labels left, values right.
 * @module
 */
import { esc } from './html-escape.js';

/** One row of an interval chart. */
export interface IntervalBar {
  label: string;
  value: number;
  lower?: number;
  upper?: number;
  /** Text printed right of the row, e.g. "0.70 [0.40, 0.89]". */
  text: string;
  color: string;
}

/** One row of a two-part bar chart (p50 over p95, prompt + completion tokens). */
export interface PairBar {
  label: string;
  first: number;
  second: number;
  text: string;
  color: string;
}

const WIDTH = 560;
const LABEL = 190;
/** Characters of a label that fit LABEL at 11 px (wider labels are clipped in the middle, whole in the tooltip). */
const LABEL_CHARS = 26;
const TEXT = 120;
const ROW = 30;
const TOP = 8;
const AXIS = 26;
const PLOT = WIDTH - LABEL - TEXT;

/** A bar per row from zero to the value, with a whisker from lower to upper. */
export function intervalChart(title: string, rows: IntervalBar[], domain?: [number, number]): string {
  const values = rows.flatMap((r) => [r.value, r.lower ?? r.value, r.upper ?? r.value]);
  const ticks = niceTicks(domain ?? [Math.min(0, ...values), Math.max(0, ...values)]);
  const x = scale(ticks[0], ticks[ticks.length - 1]);
  const height = TOP + rows.length * ROW + AXIS;
  const body = rows.map((r, i) => {
    const y = TOP + i * ROW;
    const mid = y + ROW / 2;
    const [x0, x1] = [x(0), x(r.value)].sort((a, b) => a - b);
    let whisker = '';
    if (r.lower !== undefined && r.upper !== undefined) {
      const [lo, hi] = [x(r.lower), x(r.upper)];
      whisker =
        `<line class="whisker" x1="${n(lo)}" x2="${n(hi)}" y1="${n(mid)}" y2="${n(mid)}"/>` +
        `<line class="cap" x1="${n(lo)}" x2="${n(lo)}" y1="${n(mid - 6)}" y2="${n(mid + 6)}"/>` +
        `<line class="cap" x1="${n(hi)}" x2="${n(hi)}" y1="${n(mid - 6)}" y2="${n(mid + 6)}"/>`;
    }
    return (
      `<g class="row">${label(r.label, mid)}` +
      `<rect class="bar" x="${n(x0)}" y="${n(y + 7)}" width="${n(Math.max(x1 - x0, 1))}" height="${ROW - 14}" fill="${esc(r.color)}" rx="2"><title>${esc(r.label)}: ${esc(r.text)}</title></rect>` +
      `${whisker}<text class="value" x="${LABEL + PLOT + 8}" y="${n(mid)}" dy="0.35em">${esc(r.text)}</text></g>`
    );
  });
  return svg(title, height, grid(ticks, x, TOP + rows.length * ROW) + body.join(''));
}

/**
 * Two values per row: `stacked` draws second after first (prompt + completion tokens);
 * otherwise first is drawn over second (p50 over p95).
 */
export function pairChart(title: string, rows: PairBar[], stacked: boolean): string {
  const max = Math.max(1, ...rows.map((r) => (stacked ? r.first + r.second : Math.max(r.first, r.second))));
  const ticks = niceTicks([0, max]);
  const x = scale(ticks[0], ticks[ticks.length - 1]);
  const height = TOP + rows.length * ROW + AXIS;
  const body = rows.map((r, i) => {
    const y = TOP + i * ROW;
    const mid = y + ROW / 2;
    const back = stacked
      ? `<rect class="bar second" x="${n(x(r.first))}" y="${n(y + 7)}" width="${n(x(r.first + r.second) - x(r.first))}" height="${ROW - 14}" fill="${esc(r.color)}" opacity="0.45"/>`
      : `<rect class="bar second" x="${n(x(0))}" y="${n(y + 7)}" width="${n(x(r.second) - x(0))}" height="${ROW - 14}" fill="${esc(r.color)}" opacity="0.35"/>`;
    const front = `<rect class="bar first" x="${n(x(0))}" y="${n(y + 7)}" width="${n(Math.max(x(r.first) - x(0), 1))}" height="${ROW - 14}" fill="${esc(r.color)}"/>`;
    return `<g class="row">${label(r.label, mid)}${back}${front}<title>${esc(r.label)}: ${esc(r.text)}</title><text class="value" x="${LABEL + PLOT + 8}" y="${n(mid)}" dy="0.35em">${esc(r.text)}</text></g>`;
  });
  return svg(title, height, grid(ticks, x, TOP + rows.length * ROW) + body.join(''));
}

function svg(title: string, height: number, content: string): string {
  return `<svg class="chart" role="img" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" xmlns="http://www.w3.org/2000/svg"><title>${esc(title)}</title>${content}</svg>`;
}

/** Variant ids differ at their end (`node.variant_1` / `node.variant_2`), so cut in the middle. */
function clipMiddle(text: string, max: number): string {
  if (text.length <= max) return text;
  const tail = Math.ceil((max - 1) * 0.55);
  return `${text.slice(0, max - 1 - tail)}…${text.slice(-tail)}`;
}

function label(text: string, mid: number): string {
  return `<text class="label" x="${LABEL - 8}" y="${n(mid)}" dy="0.35em" text-anchor="end">${esc(clipMiddle(text, LABEL_CHARS))}<title>${esc(text)}</title></text>`;
}

/** Vertical grid lines with tick labels under the plot. */
function grid(ticks: number[], x: (v: number) => number, bottom: number): string {
  return ticks
    .map((t) => {
      const at = n(x(t));
      return `<line class="${t === 0 ? 'zero' : 'grid'}" x1="${at}" x2="${at}" y1="${TOP}" y2="${bottom}"/><text class="tick" x="${at}" y="${bottom + 16}" text-anchor="middle">${esc(tickText(t))}</text>`;
    })
    .join('');
}

function scale(lo: number, hi: number): (v: number) => number {
  const span = hi - lo || 1;
  return (v) => LABEL + ((Math.min(Math.max(v, lo), hi) - lo) / span) * PLOT;
}

/** About five round ticks (1, 2 or 5 × 10^k apart) covering the domain. */
export function niceTicks([lo, hi]: [number, number]): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (hi - lo < 1e-12) hi = lo + (Math.abs(lo) || 1);
  const raw = (hi - lo) / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const ticks: number[] = [];
  for (let t = Math.floor(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  if (ticks[ticks.length - 1] < hi) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

function tickText(t: number): string {
  if (Math.abs(t) >= 1_000_000) return `${Number((t / 1_000_000).toPrecision(3))}M`;
  if (Math.abs(t) >= 10_000) return `${Number((t / 1000).toPrecision(3))}k`;
  return String(t);
}

function n(value: number): string {
  return Number.isFinite(value) ? String(Math.round(value * 10) / 10) : '0';
}

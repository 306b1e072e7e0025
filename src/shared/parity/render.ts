/**
 * The parity report: `parity.json` (the whole result), `parity.md` (the summary and the lines that disagree most,
 * also the job summary) and `parity.html` (self-contained, every line, the largest disagreement first).
 * @module
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ParityLine, ParityResult } from './run.js';

/** How many lines the Markdown summary lists (the HTML lists them all). */
const MARKDOWN_LINES = 20;

export function writeParityReport(result: ParityResult, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const files = {
    'parity.json': JSON.stringify(result, null, 2) + '\n',
    'parity.md': parityMarkdown(result),
    'parity.html': parityHtml(result),
  };
  const written: string[] = [];
  for (const [name, text] of Object.entries(files)) {
    // Written whole to a temporary name, then renamed: a reader never sees half a report.
    const file = path.join(dir, name);
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
    written.push(file);
  }
  return written;
}

const num = (x: number | undefined) =>
  x === undefined || !Number.isFinite(x) ? '–' : String(Math.round(x * 1000) / 1000);
const interval = (lo: number, hi: number) => `[${num(lo)}, ${num(hi)}]`;
/**
 * The margins the verdict used: the default δ, then each evaluator that had its own (`parity.margins`), e.g.
 * `δ = 0.05 (judged: δ = 0.5; latency: δ = 50)`.
 */
export function describeMargins(r: Pick<ParityResult, 'margin' | 'evaluators'>): string {
  const own = r.evaluators
    .filter((e) => e.marginFrom !== 'parity.margin')
    .map((e) => `${e.marginFrom.slice('parity.margins.'.length)}: δ = ${e.test.margin}`);
  return `δ = ${r.margin}${own.length ? ` (${[...new Set(own)].join('; ')})` : ''}`;
}

const cell = (v: unknown) =>
  (v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v)).replace(/\|/g, '\\|').replace(/\n/g, ' ');

function summaryRows(r: ParityResult): string[][] {
  const rows: string[][] = [
    [
      'exact agreement',
      num(r.agreement.rate),
      `disagreement ≤ ${num(r.agreement.disagreementUpper)} (${Math.round((1 - r.alpha) * 100)}% upper bound${r.agreement.clusters !== undefined ? `, ${r.agreement.clusters} clusters` : ''})`,
      `${r.agreement.withinMargin ? 'within' : 'beyond'} δ = ${r.margin}`,
    ],
  ];
  if (r.similarity)
    rows.push(['semantic similarity', num(r.similarity.mean), interval(r.similarity.ciLow, r.similarity.ciHigh), '']);
  if (r.judge) rows.push(['LLM-judged equivalence', num(r.judge.mean), interval(r.judge.ciLow, r.judge.ciHigh), '']);
  for (const e of r.evaluators)
    rows.push([
      `${e.name}: ${e.metric} (candidate − baseline)`,
      `${num(e.candidate)} − ${num(e.baseline)} = ${num(e.test.meanDifference)}`,
      interval(e.test.ciLow, e.test.ciHigh),
      `${e.test.equivalent ? 'equivalent' : 'not equivalent'} (δ = ${e.test.margin}, ${e.marginFrom})`,
    ]);
  return rows;
}

export function parityMarkdown(r: ParityResult): string {
  const verdict = r.equivalent
    ? `✅ **equivalent within ${describeMargins(r)}**`
    : `❌ **not equivalent within ${describeMargins(r)}**`;
  const out = [
    `## Parity: ${r.useCase}`,
    '',
    `${verdict} — baseline ${r.baseline.target} vs candidate ${r.candidate.target}, ${r.lines} lines of ${r.dataset}, compared on ${r.outputs.join(', ')} (α = ${r.alpha}).`,
    '',
    '| measure | value | interval | verdict |',
    '|---|---|---|---|',
    ...summaryRows(r).map((row) => `| ${row.map(cell).join(' | ')} |`),
    '',
    ...r.reasons.map((s) => `- ${s}`),
    '',
    `### Lines that disagree most`,
    '',
    '| line | disagreement | baseline | candidate | similarity | judge |',
    '|---|---|---|---|---|---|',
    ...r.rows.slice(0, MARKDOWN_LINES).map((l) => `| ${lineCells(l).map(cell).join(' | ')} |`),
    '',
  ];
  return out.join('\n');
}

function lineCells(l: ParityLine): string[] {
  return [
    String(l.line),
    num(l.disagreement),
    l.baseline ? JSON.stringify(l.baseline) : `failed: ${l.error?.baseline ?? ''}`,
    l.candidate ? JSON.stringify(l.candidate) : `failed: ${l.error?.candidate ?? ''}`,
    num(l.similarity),
    num(l.judge),
  ];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function parityHtml(r: ParityResult): string {
  const table = (head: string[], rows: string[][], rowClass?: (i: number) => string) =>
    `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
      .map(
        (row, i) =>
          `<tr${rowClass ? ` class="${rowClass(i)}"` : ''}>${row.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`,
      )
      .join('')}</tbody></table>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Parity: ${esc(r.useCase)}</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:1rem auto;max-width:72rem;padding:0 1rem;color:#1b1f24}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem;display:block;overflow-x:auto}
th,td{border-bottom:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
.verdict{font-size:1.2rem;font-weight:600}.ok{color:#1a7f37}.bad{color:#cf222e}tr.off{background:#fff1f0}
</style></head><body>
<h1>Parity: ${esc(r.useCase)}</h1>
<p class="verdict ${r.equivalent ? 'ok' : 'bad'}">${r.equivalent ? 'Equivalent' : 'Not equivalent'} within ${esc(describeMargins(r))}</p>
<p>Baseline <code>${esc(r.baseline.target)}</code> (run ${esc(r.baseline.runId)}) vs candidate <code>${esc(r.candidate.target)}</code> (run ${esc(r.candidate.runId)}); ${r.lines} lines of ${esc(r.dataset)}; compared on ${esc(r.outputs.join(', '))}; α = ${r.alpha}.</p>
${table(['measure', 'value', 'interval', 'verdict'], summaryRows(r))}
<ul>${r.reasons.map((s) => `<li>${esc(s)}</li>`).join('')}</ul>
<h2>Lines, the largest disagreement first</h2>
${table(['line', 'disagreement', 'baseline', 'candidate', 'similarity', 'judge'], r.rows.map(lineCells), (i) =>
  r.rows[i].agree ? '' : 'off',
)}
</body></html>
`;
}

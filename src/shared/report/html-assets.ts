/**
 * The report page's inline stylesheet and its one script (line filtering). Both are
 * constants so the page's Content-Security-Policy can pin the script by its hash.
 * @module
 */

/** Variant colours (distinguishable, colour-blind friendly order). */
export const PALETTE = [
  '#4269d0',
  '#efb118',
  '#ff725c',
  '#6cc5b0',
  '#3ca951',
  '#ff8ab7',
  '#a463f2',
  '#97bbf5',
  '#9c6b4e',
  '#9498a0',
];

export const STYLE = `
:root { color-scheme: light; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #f6f8fa; --ok: #1a7f37; --bad: #cf222e; --skip: #9a6700; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--fg); background: #fff; }
header { padding: 20px 32px; border-bottom: 1px solid var(--line); background: var(--bg); }
header h1 { margin: 0 0 4px; font-size: 22px; }
header .meta { color: var(--muted); }
main { padding: 8px 32px 48px; max-width: 1760px; }
h2 { font-size: 18px; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 0 0 6px; }
.verdict { display: inline-block; margin-top: 10px; padding: 6px 14px; border-radius: 6px; font-weight: 600; color: #fff; }
.verdict.passed { background: var(--ok); } .verdict.failed { background: var(--bad); } .verdict.none { background: var(--muted); }
.tiles { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0 0; }
.tile { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 120px; background: #fff; }
.tile .k { color: var(--muted); font-size: 12px; } .tile .v { font-size: 18px; font-weight: 600; }
.tile.bad .v { color: var(--bad); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; white-space: nowrap; }
.badge.passed, .badge.Improved { background: #dafbe1; color: var(--ok); }
.badge.failed, .badge.Degraded { background: #ffebe9; color: var(--bad); }
.badge.skipped, .badge.Inconclusive { background: #fff8c5; color: var(--skip); }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--bg); }
.scroll th { position: sticky; top: 0; z-index: 1; box-shadow: inset 0 -1px 0 var(--line); }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.json { font-family: ui-monospace, SFMono-Regular, Consolas, monospace; font-size: 12px; min-width: 120px; max-width: 420px; overflow-wrap: break-word; word-break: break-word; }
tr.failed td { background: #fff5f5; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(580px, 100%), 1fr)); gap: 16px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 12px 12px 4px; }
.card .sub { color: var(--muted); font-size: 12px; margin-bottom: 4px; }
svg.chart { max-width: 100%; height: auto; font-size: 11px; }
/* Below this a chart's text gets too small to read: it keeps this width and its card scrolls. */
.card { overflow-x: auto; } svg.chart { min-width: 480px; }
svg .label, svg .value { fill: var(--fg); } svg .tick { fill: var(--muted); }
svg .grid { stroke: #eaeef2; } svg .zero { stroke: #8c959f; }
svg .whisker, svg .cap { stroke: #1f2328; stroke-width: 1.6; }
.filters { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 0 0 8px; }
.filters input, .filters select { font: inherit; padding: 4px 8px; border: 1px solid var(--line); border-radius: 6px; }
.filters input { min-width: 260px; }
.note { color: var(--muted); font-style: italic; }
.cluster-warning { color: var(--skip); margin: 0 0 8px; }
.scroll { max-height: 720px; overflow: auto; border: 1px solid var(--line); }
.scroll table { border: 0; width: max-content; min-width: 100%; }
pre.error { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 12px; color: var(--bad); }
.legend { color: var(--muted); font-size: 12px; }
/* Tables scroll sideways inside their own box when the window is narrower than they are: the page never does. */
.wide { max-width: 100%; overflow-x: auto; }
/* On a narrow screen a table wider than the window would otherwise squeeze every column to its longest word. */
.wide td:not(.num) { min-width: 7em; }
.wide td:last-child:not(.num) { min-width: 12em; }
.spaced { margin-top: 12px; }
/* Run ids are long dotted identifiers: they may break anywhere rather than widen the table. */
td.id { overflow-wrap: anywhere; min-width: 12ch; font-family: ui-monospace, SFMono-Regular, Consolas, monospace; font-size: 12px; }
@media (max-width: 720px) {
  header, main { padding-left: 12px; padding-right: 12px; }
  .tile { min-width: 0; flex: 1 1 40%; }
  .filters input { min-width: 0; flex: 1 1 100%; }
  .filters select { flex: 1 1 40%; min-width: 0; }
}
`;

/** Filters the per-line table by free text, variant, dataset and status. */
export const FILTER_SCRIPT = `(function () {
  var search = document.getElementById('line-search');
  var variant = document.getElementById('line-variant');
  var dataset = document.getElementById('line-dataset');
  var status = document.getElementById('line-status');
  var count = document.getElementById('line-count');
  if (!search || !count) return;
  var rows = Array.prototype.slice.call(document.querySelectorAll('#lines tbody tr'));
  var texts = rows.map(function (row) { return row.textContent.toLowerCase(); });
  function apply() {
    var term = search.value.trim().toLowerCase();
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i];
      var visible = (!term || texts[i].indexOf(term) >= 0) &&
        (!variant.value || row.getAttribute('data-variant') === variant.value) &&
        (!dataset.value || row.getAttribute('data-dataset') === dataset.value) &&
        (!status.value || row.getAttribute('data-status') === status.value);
      row.hidden = !visible;
      if (visible) shown++;
    }
    count.textContent = shown + ' of ' + rows.length + ' rows shown';
  }
  [search, variant, dataset, status].forEach(function (el) { el.addEventListener('input', apply); el.addEventListener('change', apply); });
  apply();
})();`;

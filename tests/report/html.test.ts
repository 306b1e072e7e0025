import { renderHtml } from '../../src/shared/report/html.js';
import { niceTicks } from '../../src/shared/report/svg-charts.js';
import { sampleResults } from './sample.js';

const attack = '<img src=x onerror=alert(1)>';

describe('HTML report', () => {
  const html = renderHtml(sampleResults());

  it('is one self-contained page: no external scripts, styles, fonts or images', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/\bsrc=/i);
    expect(html).not.toMatch(/url\(|@import|@font-face/i);
    expect(html).not.toMatch(/https?:\/\/(?!example\.com|www\.w3\.org\/2000\/svg)/);
    expect(html.match(/<script>/g)).toHaveLength(1);
    expect(html).toMatch(
      /Content-Security-Policy" content="default-src &#39;none&#39;; style-src &#39;unsafe-inline&#39;; script-src &#39;sha256-[A-Za-z0-9+/=]+&#39;/,
    );
  });

  it('shows the header, gate badges, one chart per evaluator metric and the comparisons', () => {
    expect(html).toContain('<h1>web_classification</h1>');
    expect(html).toContain('env <b>dev</b> · build <b>20250210.3</b> · 2025-02-10 14:03 UTC');
    expect(html).toContain('<span class="verdict failed">1 of 4 gates failed</span>');
    expect(html.match(/<tr class="gate (passed|failed|skipped)">/g)).toEqual([
      '<tr class="gate failed">',
      '<tr class="gate skipped">',
      '<tr class="gate passed">',
      '<tr class="gate passed">',
    ]);
    expect(html.match(/class="card metric-chart" data-metric="([^"]+)"/g)).toEqual([
      'class="card metric-chart" data-metric="accuracy"',
      'class="card metric-chart" data-metric="error_rate"',
    ]);
    expect(html.match(/class="whisker"/g)).toHaveLength(2); // accuracy has intervals for both variants, error_rate none
    expect(html).toContain('<span class="badge Degraded">Degraded</span>');
    expect(html).toContain('0.70 [0.40, 0.89]');
  });

  it('renders every line with filter attributes, and the failed line with its error', () => {
    expect(html.match(/<tr class="(completed|failed)" data-variant=/g)).toHaveLength(20);
    expect(html).toMatch(
      /<tr class="failed" data-variant="summarize_text_content\.variant_1" data-dataset="web_train" data-status="failed" data-run="[^"]+" data-line="2">/,
    );
    expect(html).toContain(
      '<pre class="error">ServiceError: Connection timed out after 3 retries &lt;script&gt;x&lt;/script&gt;</pre>',
    );
  });

  it('escapes every user value (experiment, variant, inputs, outputs, errors, gate texts)', () => {
    const r = sampleResults();
    r.experiment = `exp ${attack}`;
    r.variants[1].id = `v"><script>alert(2)</script>`;
    for (const x of [...r.runs, ...r.lines, ...r.metrics, ...r.gates, ...r.comparisons])
      if (x.variantId === 'summarize_text_content.variant_1') x.variantId = r.variants[1].id;
    r.lines[0].inputs = { [`key${attack}`]: `</td></tr></table>${attack}` };
    r.lines[1].outputs = { answer: `<script>alert(3)</script>` };
    r.lines[12].error = { message: `boom ${attack}` };
    r.gates[0].message = attack;
    r.gates[0].threshold = '<= 0.6 & "quoted"';
    r.comparisons[0].message = attack;
    const out = renderHtml(r);
    expect(out).not.toContain('<img');
    expect(out).not.toContain('<script>alert');
    expect(out).not.toContain('"><script');
    expect(out.match(/<script>/g)).toHaveLength(1);
    expect(out).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(out).toContain('&lt;= 0.6 &amp; &quot;quoted&quot;');
  });

  it('caps the rows per run: a run that fits is whole, in line order; a larger one shows its worst lines', () => {
    const r = sampleResults();
    const line = r.lines[0];
    for (let i = 0; i < 120; i++) r.lines.push({ ...line, lineNumber: 100 + i });
    const out = renderHtml(r, { maxLinesPerRun: 50 });
    const rows = [...out.matchAll(/<tr class="(?:completed|failed)" [^>]*data-run="([^"]+)" data-line="(\d+)"/g)];
    expect(rows).toHaveLength(50 + 3 * 5);
    const big = rows.filter((m) => m[1] === 'run-default-train').map((m) => Number(m[2]));
    // Lines 1 and 4 are the run's Incorrect lines (score 0): worst first, then the tied lines by line number.
    expect(big).toEqual([1, 4, 0, 2, 3, ...Array.from({ length: 45 }, (_, i) => 100 + i)]);
    const small = rows.filter((m) => m[1] === 'run-v1-train').map((m) => Number(m[2]));
    expect(small).toEqual([0, 1, 2, 3, 4]);
    expect(out).toContain(
      'Showing 65 of 140 lines: at most 50 per run, its failed lines first, then its worst-scored lines. Every line is in the CSV and JSON reports beside this file.',
    );
  });

  it('bounds the table at 200 rows per run by default, failed lines first, then the worst-scored', () => {
    const r = sampleResults();
    const base = r.lines.find((l) => l.runId === 'run-default-test' && !l.error)!;
    r.lines = r.lines.filter((l) => l.runId !== 'run-default-test');
    for (let i = 0; i < 1000; i++) {
      const l = structuredClone(base);
      l.lineNumber = i;
      // Scores fall and rise along the run; every 97th line failed.
      l.scores = { 'eval_accuracy.score': i % 10 === 3 ? 0 : 1, 'eval_accuracy.grade': 'Correct' };
      if (i % 97 === 40) {
        l.error = { message: `line ${i} failed` };
        delete l.outputs;
        l.scores = {};
      }
      r.lines.push(l);
    }
    // Completion order: the run's lines arrive reversed.
    r.lines.reverse();
    const out = renderHtml(r);
    const rows = [
      ...out.matchAll(/<tr class="(completed|failed)" [^>]*data-run="run-default-test" data-line="(\d+)"/g),
    ];
    expect(rows).toHaveLength(200);
    const failed = Array.from({ length: 11 }, (_, k) => 40 + 97 * k).filter((n) => n < 1000);
    expect(rows.slice(0, failed.length).map((m) => [m[1], Number(m[2])])).toEqual(failed.map((n) => ['failed', n]));
    // Then the 100 lines scored 0 (i % 10 === 3, none of them failed), then the first lines scored 1.
    const zeros = Array.from({ length: 100 }, (_, k) => 3 + 10 * k).filter((n) => !failed.includes(n));
    const rest = rows.slice(failed.length).map((m) => Number(m[2]));
    expect(rest.slice(0, zeros.length)).toEqual(zeros);
    const ones = Array.from({ length: 1000 }, (_, i) => i).filter((i) => i % 10 !== 3 && !failed.includes(i));
    expect(rest.slice(zeros.length)).toEqual(ones.slice(0, 200 - failed.length - zeros.length));
    expect(out).toContain('Showing 215 of 1,015 lines: at most 200 per run');
    // Every failed line is still listed with its error in the failed-lines section.
    expect(out.match(/<pre class="error">line \d+ failed<\/pre>/g)).toHaveLength(failed.length);
  });

  it('says so when there are no gates', () => {
    const r = sampleResults();
    r.gates = [];
    expect(renderHtml(r)).toContain('No quality gates configured');
  });
});

describe('chart axis ticks', () => {
  it('covers the domain with round steps', () => {
    expect(niceTicks([0, 1])).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks([0, 437])).toEqual([0, 100, 200, 300, 400, 500]);
    expect(niceTicks([-0.35, 0.21])).toEqual([-0.4, -0.2, 0, 0.2, 0.4]);
    expect(niceTicks([3, 3])).toEqual([3, 4, 5, 6]);
  });
});

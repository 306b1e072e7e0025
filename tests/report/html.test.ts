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

  it('caps the rendered lines and says where the rest is', () => {
    const r = sampleResults();
    const line = r.lines[0];
    for (let i = 0; i < 120; i++) r.lines.push({ ...line, lineNumber: 100 + i });
    const out = renderHtml(r, { maxLines: 50 });
    expect(out.match(/<tr class="(completed|failed)" data-variant=/g)).toHaveLength(50);
    expect(out).toContain('Showing the first 50 of 140 lines; every line is in the CSV and JSON reports.');
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

import { renderMarkdown, markdownMarker, PR_COMMENT_MAX_BYTES } from '../../src/shared/report/markdown.js';
import type { Results } from '../../src/shared/results/model.js';
import { sampleResults, V1 } from './sample.js';

/** Sample with many failed lines and gates, to push the summary over a budget. */
function bigResults(failedLines: number, gates: number): Results {
  const r = sampleResults();
  const template = r.lines.find((l) => l.error)!;
  for (let i = 0; i < failedLines; i++) {
    r.lines.push({
      ...template,
      lineNumber: 100 + i,
      error: { message: `Rate limited (429) on attempt ${i} — ${'x'.repeat(120)}`, code: 'ServiceError' },
    });
  }
  for (let i = 0; i < gates; i++) {
    r.gates.push({
      name: `latency gate ${i}`,
      metric: 'p95_latency_ms',
      variantId: V1,
      status: 'passed',
      observed: 100 + i,
      threshold: '≤ 2000',
      message: `p95 ${100 + i} ms`,
    });
  }
  return r;
}

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

describe('Markdown summary', () => {
  const md = renderMarkdown(sampleResults());

  it('starts with the hidden marker used to update one PR comment in place, then the headline verdict', () => {
    const [first, second] = md.split('\n');
    expect(first).toBe('<!-- llmops-report:web_classification -->');
    expect(second).toBe('## ❌ web_classification: 1 of 4 gates failed (1 skipped)');
    expect(md).toContain('**env** dev · **build** 20250210.3 · 2025-02-10 14:03 UTC');
  });

  it('says all gates passed when none failed', () => {
    const r = sampleResults();
    r.gates = r.gates.filter((g) => g.status !== 'failed');
    expect(renderMarkdown(r).split('\n')[1]).toBe('## ✅ web_classification: all 2 gates passed (1 skipped)');
  });

  it('lists failed gates first, with observed value and threshold', () => {
    const gateRows = md
      .split('### Gates')[1]
      .split('###')[0]
      .split('\n')
      .filter((l) => l.startsWith('| ') && !l.startsWith('| Status') && !l.startsWith('| ---'));
    expect(gateRows.map((l) => l.split(' | ')[0])).toEqual([
      '| ❌ failed',
      '| ⏭️ skipped',
      '| ✅ passed',
      '| ✅ passed',
    ]);
    expect(gateRows[0]).toContain('| 0.63 | ≥ 0.65 |');
  });

  it('shows metrics per variant with confidence intervals', () => {
    expect(md).toContain('| Evaluator | Metric | default | summarize_text_content.variant_1 |');
    expect(md).toContain('| eval_accuracy | accuracy ↑ | 0.70 [0.40, 0.89] | 0.63 [0.31, 0.86] |');
    expect(md).toContain('95% confidence interval');
  });

  it('shows comparisons with verdict words and run statistics with totals', () => {
    expect(md).toMatch(
      /\| 🔴 Degraded \| default \| eval_accuracy\.accuracy \| baseline \| 0\.90 → 0\.70 \(−0\.20\) \|/,
    );
    expect(md).toContain('⚪ Inconclusive');
    expect(md).toContain(
      '| summarize_text_content.variant_1 | web_train | 5 | **1** | 1,200 | $0.0052 | 360 ms | 4.00 s |',
    );
    expect(md).toContain('| **Total** |  | 20 | 1 | 4,800 | $0.0160 |');
  });

  it('lists failed lines with their errors, HTML shown as text', () => {
    expect(md).toContain('### Failed lines (1)');
    expect(md).toContain(
      '| summarize_text_content.variant_1 | web_train | 2 | ServiceError: Connection timed out after 3 retries &lt;script&gt;x&lt;/script&gt; |',
    );
    expect(md).not.toContain('<script>');
  });

  it('keeps user text inside its table cell: pipes escaped, newlines flattened, mentions defused', () => {
    const r = sampleResults();
    r.lines[12].error = { message: 'bad | cell\nsecond line @octocat' };
    const row = renderMarkdown(r)
      .split('\n')
      .find((l) => l.includes('bad'))!;
    expect(row).toContain('bad \\| cell second line @\u200boctocat');
  });

  it('caps the number of failed lines listed and says how many more there are', () => {
    const out = renderMarkdown(bigResults(40, 0), { maxFailedLines: 5 });
    const rows = out
      .split('### Failed lines (41)')[1]
      .split('\n')
      .filter((l) => l.startsWith('| ') && /\| \d+ \|/.test(l));
    expect(rows).toHaveLength(5);
    expect(out).toContain('_36 more row(s) not shown');
  });

  it.each([PR_COMMENT_MAX_BYTES, 8000, 2500])('stays under maxBytes = %i without cutting a row', (maxBytes) => {
    const out = renderMarkdown(bigResults(3000, 300), { maxBytes, maxFailedLines: 3000 });
    expect(bytes(out)).toBeLessThanOrEqual(maxBytes);
    expect(bytes(out)).toBeGreaterThan(maxBytes * 0.6);
    for (const line of out.split('\n').filter((l) => l.startsWith('|'))) expect(line.endsWith(' |')).toBe(true);
    expect(out.startsWith(markdownMarker('web_classification'))).toBe(true);
    expect(out).toContain('This summary was shortened to stay under');
    // the failed gate survives every cut: failed gates come first
    expect(out).toContain('❌ failed | accuracy at least 0.65');
  });

  it('gives each table a share of the room, so hundreds of gates do not push the metrics out', () => {
    const out = renderMarkdown(bigResults(10, 300), { maxBytes: 6000 });
    expect(out).toContain('| eval_accuracy | accuracy ↑ | 0.70 [0.40, 0.89] | 0.63 [0.31, 0.86] |');
    expect(out).toMatch(/_\d+ more row\(s\) not shown/);
  });

  it('names the sections it had to leave out', () => {
    const out = renderMarkdown(bigResults(10, 300), { maxBytes: 2500 });
    expect(out).toMatch(/Left out: Comparisons, Runs, Failed lines \(11\)\./);
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(2500);
  });

  it('is not shortened when everything fits', () => {
    expect(md).not.toContain('shortened');
    expect(bytes(renderMarkdown(bigResults(3000, 300), { maxFailedLines: 3000 }))).toBeGreaterThan(
      PR_COMMENT_MAX_BYTES,
    );
  });
});

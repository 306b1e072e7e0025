/**
 * A run with `repeat: K`: every per-line output of the report says which data line a line repeats and which
 * repetition it is (CSV and JSON columns, HTML and Markdown table columns, the JUnit case name and text), in line
 * order; a report without a repeated run has none of it. (The lines as the store gives them:
 * tests/steps/repeat-lifecycle.test.ts.)
 */
import { parse } from 'csv-parse/sync';
import { renderReports, ALL_REPORT_FORMATS } from '../../src/shared/report/write.js';
import { validateResults } from '../../src/shared/report/schema.js';
import type { Results } from '../../src/shared/results/model.js';
import { sampleResults } from './sample.js';

/** The sample with its first run repeated 3 times over data lines 0..1 (lines 0..5); line 4 failed. */
function repeated(): Results {
  const r = sampleResults();
  const runId = r.runs[0].runId;
  r.runs[0] = { ...r.runs[0], lines: 6, completed: 5, failed: 1, repeat: 3 };
  const template = r.lines.find((l) => l.runId === runId && !l.error)!;
  const mine = Array.from({ length: 6 }, (_, n) => {
    const line = { ...template, lineNumber: n, sourceLine: Math.floor(n / 3), repetition: n % 3 };
    if (n === 4) {
      delete line.outputs;
      return { ...line, scores: {}, error: { message: 'model timed out', code: 'ServiceError' } };
    }
    return line;
  });
  r.lines = [...mine, ...r.lines.filter((l) => l.runId !== runId)];
  return r;
}

const files = (results: Results) =>
  Object.fromEntries(renderReports(results, ALL_REPORT_FORMATS).map((f) => [f.name, f.content]));

test('a repeated run: every per-line format has its source line and repetition, in line order', () => {
  const results = repeated();
  expect(validateResults(results)).toEqual([]);
  const out = files(results);
  const runId = results.runs[0].runId;

  for (const name of ['eval_accuracy_result.csv', 'web_classification_result.csv']) {
    const rows = parse(out[name], { columns: true }) as Record<string, string>[];
    expect(Object.keys(rows[0]).slice(0, 3)).toEqual(['line_number', 'source_line', 'repetition']);
    const mine = rows.filter((row) => row.run_id === runId);
    expect(mine.map((row) => [row.line_number, row.source_line, row.repetition])).toEqual([
      ['0', '0', '0'],
      ['1', '0', '1'],
      ['2', '0', '2'],
      ['3', '1', '0'],
      ['4', '1', '1'],
      ['5', '1', '2'],
    ]);
    // Other runs of the file do not repeat: their cells are empty.
    expect(rows.find((row) => row.run_id !== runId)).toMatchObject({ source_line: '', repetition: '' });
  }

  const json = JSON.parse(out['results.json']) as Results;
  expect(json.runs[0].repeat).toBe(3);
  expect(json.lines.filter((l) => l.runId === runId).map((l) => [l.lineNumber, l.sourceLine, l.repetition])).toEqual(
    Array.from({ length: 6 }, (_, n) => [n, Math.floor(n / 3), n % 3]),
  );
  expect(json.lines.find((l) => l.runId !== runId)).not.toHaveProperty('sourceLine');

  const html = out['report.html'];
  expect(html).toMatch(
    /<table id="lines"><thead><tr><th>Status<\/th><th>Variant<\/th><th>Dataset<\/th><th>Line<\/th><th>Source line<\/th><th>Repetition<\/th>/,
  );
  expect(html).toContain(
    `data-run="${runId}" data-line="5"><td><span class="badge passed">completed</span></td><td>default</td><td>web_train</td><td class="num">5</td><td class="num">1</td><td class="num">2</td>`,
  );
  expect(html).toMatch(
    /<table id="failed-lines"><thead><tr><th>Variant<\/th><th>Dataset<\/th><th>Line<\/th><th>Source line<\/th><th>Repetition<\/th>/,
  );
  expect(html).toContain('<td class="num">4</td><td class="num">1</td><td class="num">1</td><td class="json">');

  const md = out['summary.md'];
  expect(md).toContain('| Variant | Dataset | Line | Source line | Repetition | Error |');
  expect(md).toMatch(/\| default \| web_train \| 4 \| 1 \| 1 \| ServiceError: model timed out \|/);

  const junit = out['results.junit.xml'];
  expect(junit).toContain('name="line 4 (data line 1, repetition 1) [default]"');
  expect(junit).toContain('Source line: 1\nRepetition: 1');
});

test('a report without a repeated run has no repetition columns', () => {
  const out = files(sampleResults());
  expect(out['eval_accuracy_result.csv'].split('\n')[0]).not.toMatch(/source_line|repetition/);
  expect(out['results.json']).not.toMatch(/"sourceLine"|"repetition"|"repeat"/);
  expect(out['report.html']).not.toContain('<th>Source line</th>');
  expect(out['summary.md']).not.toContain('Source line');
  expect(out['results.junit.xml']).not.toContain('repetition');
});

/**
 * Lines arrive in completion order (the run store appends them as they finish); every report
 * format shows them in line order, run by run.
 */
import { parse } from 'csv-parse/sync';
import { inLineOrder } from '../../src/shared/report/order.js';
import { renderReports } from '../../src/shared/report/write.js';
import { sampleResults } from './sample.js';

/** The sample with its lines shuffled deterministically, and a failed line in two runs. */
function completionOrder() {
  const r = sampleResults();
  for (const line of r.lines.filter((l) => l.lineNumber === 3))
    line.error = { message: 'timed out', code: 'ServiceError' };
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  const lines = r.lines
    .map((l) => ({ l, k: next() }))
    .sort((a, b) => a.k - b.k)
    .map((x) => x.l);
  return { ...r, lines };
}

const expected = (r: ReturnType<typeof sampleResults>) =>
  r.runs.flatMap((run) =>
    r.lines
      .filter((l) => l.runId === run.runId)
      .map((l) => `${run.runId}#${l.lineNumber}`)
      .sort((a, b) => Number(a.split('#')[1]) - Number(b.split('#')[1])),
  );

test('the shuffled fixture is really out of order (the test can fail)', () => {
  const r = completionOrder();
  expect(r.lines.map((l) => `${l.runId}#${l.lineNumber}`)).not.toEqual(expected(r));
  expect(inLineOrder(r).lines.map((l) => `${l.runId}#${l.lineNumber}`)).toEqual(expected(r));
});

test('JSON, CSV, HTML, Markdown and JUnit list lines in line order, run by run', () => {
  const r = completionOrder();
  const files = Object.fromEntries(
    renderReports(r, ['json', 'csv', 'html', 'markdown', 'junit']).map((f) => [f.name, f.content]),
  );
  const want = expected(r);

  const json = JSON.parse(files['results.json']) as typeof r;
  expect(json.lines.map((l) => `${l.runId}#${l.lineNumber}`)).toEqual(want);

  for (const name of ['web_classification_result.csv', 'eval_accuracy_result.csv']) {
    const rows = parse(files[name], { columns: true }) as Record<string, string>[];
    const got = rows.map((row) => `${row.run_id}#${row.line_number}`);
    expect(got).toEqual(want.filter((k) => got.includes(k)));
    expect(got.length).toBeGreaterThan(4);
  }

  const htmlRows = [...files['report.html'].matchAll(/<tr class="\w+" [^>]*data-run="([^"]+)" data-line="(\d+)"/g)].map(
    (m) => `${m[1]}#${m[2]}`,
  );
  expect(htmlRows).toEqual(want);

  // Failed lines (line 3 of every run, and the sample's own failures) in JUnit and Markdown.
  const failedWant = r.runs.flatMap((run) =>
    r.lines
      .filter((l) => l.runId === run.runId && l.error)
      .map((l) => l.lineNumber)
      .sort((a, b) => a - b)
      .map((n) => `${run.runId}#${n}`),
  );
  expect(failedWant.length).toBeGreaterThan(2);
  const junit = [...files['results.junit.xml'].matchAll(/Run: ([^\n&]+?)(?:&#10;|\n)[\s\S]*?Line: (\d+)/g)].map(
    (m) => `${m[1]}#${m[2]}`,
  );
  expect(junit).toEqual(failedWant);
  const variantOf = new Map(r.runs.map((run) => [run.runId, `${run.variantId}|${run.dataset}`]));
  const md = [
    ...files['summary.md']
      .slice(files['summary.md'].indexOf('Failed lines'))
      .matchAll(/^\| ([^|]+?) \| ([^|]+?) \| (\d+) \| /gm),
  ].map((m) => `${m[1]}|${m[2]}#${m[3]}`);
  expect(md).toEqual(failedWant.slice(0, 10).map((k) => `${variantOf.get(k.split('#')[0])}#${k.split('#')[1]}`));
});

/**
 * Personal data redacted on the report data, before any renderer: every format shows the same placeholder, the
 * numbers of results.json are left as they are, and the lines are redacted as each walk of them passes.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dataOf } from '../../src/shared/report/order.js';
import { redactReportData } from '../../src/shared/report/redact.js';
import { writeReports } from '../../src/shared/report/write.js';
import { createRedactor } from '../../src/shared/safety/redactor.js';
import { sampleResults } from './sample.js';

const email = 'jane.roe@contoso.org';
const card = '4111 1111 1111 1111';
const iban = 'GB82 WEST 1234 5698 7654 32';

test('every report format shows the same redacted text, and results.json keeps its numbers', async () => {
  const results = sampleResults();
  const [first, second] = results.lines.filter((l) => !l.error);
  first.inputs.question = `write to ${email}`;
  first.outputs = { ...first.outputs, category: `card ${card}` };
  second.outputs = { ...second.outputs, evidence: `IBAN ${iban}` };
  const failed = results.lines.find((l) => l.error)!;
  failed.error = { ...failed.error!, message: `could not reach ${email}` };
  // A number whose digits look like a phone or a card stays a number.
  first.latencyMs = 4111111111111111;

  const redactor = createRedactor(['email', 'payment_card', 'iban']);
  const data = await redactReportData(dataOf(results), redactor.redactValue);
  const dir = await mkdtemp(path.join(tmpdir(), 'llmops-pii-report-'));
  try {
    const files = await writeReports(data, dir);
    expect(files.length).toBeGreaterThanOrEqual(5);
    const placeholder = (await redactor.redact(email)).trim();
    expect(placeholder).toMatch(/^\[EMAIL_\d+\]$/);
    for (const name of await readdir(dir)) {
      const text = await readFile(path.join(dir, name), 'utf8');
      for (const value of [email, card, iban])
        expect({ name, leaked: text.includes(value) ? value : undefined }).toEqual({ name, leaked: undefined });
    }
    for (const name of ['results.json', 'report.html', 'results.junit.xml'])
      expect(await readFile(path.join(dir, name), 'utf8')).toContain(placeholder);
    const json = JSON.parse(await readFile(path.join(dir, 'results.json'), 'utf8'));
    const line = json.lines.find(
      (l: { runId: string; lineNumber: number }) => l.runId === first.runId && l.lineNumber === first.lineNumber,
    );
    expect(line.latencyMs).toBe(4111111111111111);
    expect(line.inputs.question).toBe(`write to ${placeholder}`);
    expect(json.runs).toEqual(results.runs);
    // The lines are redacted again on every walk (each renderer walks them once).
    const walks = [];
    for (let i = 0; i < 2; i++) {
      const seen = [];
      for await (const l of data.lines()) seen.push(JSON.stringify(l));
      walks.push(seen.join('\n'));
    }
    expect(walks[0]).toBe(walks[1]);
    expect(walks[0]).not.toContain(email);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

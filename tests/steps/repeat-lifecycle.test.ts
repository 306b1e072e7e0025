/**
 * bulk-run → evaluate → report with `repeat: 3`, against the local model server: one question's three
 * repetitions get different answers (a rule whose answers are taken in turn by the sights of one request), so
 * the report's pass@k and consistency are not trivial; the interval is clustered by data line.
 *
 * Expected values by hand. Lines a, b, c, d (answer of c is "x", never matched), K = 3:
 *   passes per data line: a 3, b 1 (answers b, nope, nope), c 0, d 3  →  exact_match = 7/12
 *   pass@3 per line (1 − C(3−c,3)/C(3,3)): 1, 1, 0, 1                   →  0.75
 *   unanimous lines: a, c, d                                             →  3/4
 *   pairwise agreement: a 1, b C(2,2)/C(3,2) = 1/3, c 1, d 1             →  (3 + 1/3)/4 = 5/6
 */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import path from 'node:path';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { bulkRunStep } from '../../src/shared/steps/bulk-run.js';
import { evaluateStep } from '../../src/shared/steps/evaluate.js';
import { reportStep } from '../../src/shared/steps/report.js';
import type { Results } from '../../src/shared/results/model.js';
import { baseExperiment, llmNodeFlow, makeUseCase } from '../helpers/use-case-dir.js';

let server: ModelServerHandle;
beforeAll(async () => {
  server = await startModelServer({
    rules: [
      { match: '^b$', answers: ['b', 'nope', 'nope'] },
      { match: '^(\\w)$', answer: '{{1}}' },
    ],
  });
  process.env.AOAI_API_BASE = server.url;
  process.env.AOAI_API_KEY = 'local-test-key';
});
afterAll(() => server.close());

const data = ['a', 'b', 'c', 'd'].map((q) => JSON.stringify({ question: q, answer: q === 'c' ? 'x' : q })).join('\n');

test('repeat 3: every line runs three times; the report gives pass@3 and consistency, clustered by data line', async () => {
  const experiment =
    baseExperiment
      .slice(0, baseExperiment.indexOf('evaluators:'))
      .replace('    source: data/train.jsonl\n', '    source: data/train.jsonl\n    repeat: 3\n') +
    'evaluators:\n  - name: exact\n    builtin: exact_match\n    datasets:\n      - name: train\n        mappings:\n          prediction: ${run.outputs.answer}\n          reference: ${data.answer}\n';
  const uc = makeUseCase({ ...llmNodeFlow(), 'data/train.jsonl': data + '\n', 'experiment.yaml': experiment });
  try {
    const host = new MemoryHost();
    const common = { config: path.join(uc.dir, 'experiment.yaml'), store: path.join(uc.dir, '.llmops') };
    await bulkRunStep.run({ ...common, cacheMode: 'readwrite' }, host);
    const evaluateFrom = host.lines.length;
    await evaluateStep.run({ ...common, cacheMode: 'off' }, host);
    // The progress counts the repetitions the evaluation scores: 4 rows × 3.
    expect(host.lines.slice(evaluateFrom).map((l) => l.message)).toContain('  running 12 line(s)');
    await reportStep.run({ ...common, outputDir: path.join(uc.dir, 'reports') }, host);

    const results = JSON.parse(readFileSync(path.join(uc.dir, 'reports/results.json'), 'utf8')) as Results;
    expect(results.runs[0]).toMatchObject({ lines: 12, completed: 12 });
    const [m] = results.metrics;
    expect(m).toMatchObject({ evaluator: 'exact', metric: 'exact_match', kind: 'boolean' });
    expect(m.value).toBeCloseTo(7 / 12, 12);
    expect(m.interval).toMatchObject({ n: 12, clusteredBy: 'data line (repeat 3)', clusters: 4 });
    expect(m.repeated).toEqual({
      k: 3,
      dataLines: 4,
      passAtK: 0.75,
      unanimousShare: 0.75,
      pairwiseAgreement: expect.closeTo(5 / 6, 12) as number,
    });
    const answers = results.lines
      .filter((l) => l.inputs.question === 'b')
      .map((l) => l.outputs?.answer)
      .sort();
    expect(answers).toEqual(['b', 'nope', 'nope']);

    // Each line says which data line it repeats and which repetition it is, in the JSON and CSV lines, in order.
    const expected = Array.from({ length: 12 }, (_, n) => [n, Math.floor(n / 3), n % 3]);
    expect(results.runs[0].repeat).toBe(3);
    expect(results.lines.map((l) => [l.lineNumber, l.sourceLine, l.repetition])).toEqual(expected);
    for (const file of ['exact_result.csv', `${results.experiment}_result.csv`]) {
      const rows = parse(readFileSync(path.join(uc.dir, 'reports', file), 'utf8'), { columns: true }) as Record<
        string,
        string
      >[];
      expect(rows.map((r) => [r.line_number, r.source_line, r.repetition].map(Number))).toEqual(expected);
      expect(rows.filter((r) => r['inputs.question'] === 'b').map((r) => r.source_line)).toEqual(['1', '1', '1']);
    }

    const md = readFileSync(path.join(uc.dir, 'reports/summary.md'), 'utf8');
    expect(md).toContain('data line (repeat 3) (4 clusters)');
    expect(md).toContain(
      'each of 4 data lines answered 3 times: pass@3 0.75; all 3 answers agree on 75% of data lines',
    );
    const html = readFileSync(path.join(uc.dir, 'reports/report.html'), 'utf8');
    expect(html).toContain('<p class="note repeated">Repeated sampling: exact.exact_match (default)');
  } finally {
    uc.cleanup();
  }
}, 90_000);

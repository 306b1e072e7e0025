/**
 * The report from a run store whose records are in finishing order: CSV and JSON rows in line order and
 * complete, scores joined from the evaluation runs, the HTML table bounded with failed lines first, and a
 * results.json read back as a baseline line by line.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { ConfigError } from '../../src/shared/errors.js';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { assembleResults } from '../../src/shared/eval/results.js';
import { readResultsFile } from '../../src/shared/report/read.js';
import { writeReports } from '../../src/shared/report/write.js';
import type { EvaluationsFile, RunsFile } from '../../src/shared/results/handoff.js';
import { RunStore } from '../../src/shared/runs/store.js';
import { validateResults } from '../../src/shared/report/schema.js';
import type { Results } from '../../src/shared/results/model.js';
import { reportStep } from '../../src/shared/steps/report.js';
import { makeUseCase } from '../helpers/use-case-dir.js';
import { failedLine, gradeOf, scoreOf, syntheticStore } from './synthetic-store.js';

const runs = [
  { runId: 'std-default', variantId: 'default', dataset: 'train', lines: 1500 },
  { runId: 'std-v1', variantId: 'answer.v1', dataset: 'train', lines: 1200 },
];
const failEvery = 37;

describe('a report streamed from the run store', () => {
  const uc = makeUseCase();
  const store = path.join(uc.dir, '.llmops');
  const reports = path.join(uc.dir, 'reports');
  let files: string[] = [];
  let summary: Awaited<ReturnType<typeof reportStep.run>>['results'];

  beforeAll(async () => {
    const { runsFile, evaluationsFile } = await syntheticStore(store, { runs, failEvery });
    const out = await reportStep.run(
      { config: path.join(uc.dir, 'experiment.yaml'), store, runsFile, evaluationsFile, outputDir: reports },
      new MemoryHost(),
    );
    files = out.files.map((f) => path.basename(f));
    summary = out.results;
  });
  afterAll(() => uc.cleanup());

  const expected = runs.flatMap((r) => Array.from({ length: r.lines }, (_, i) => ({ run: r.runId, line: i })));

  it('writes every line to results.json in line order, run by run, with its scores', () => {
    const json = JSON.parse(readFileSync(path.join(reports, 'results.json'), 'utf8')) as Results;
    expect(validateResults(json)).toEqual([]);
    expect(json.lines.map((l) => `${l.runId}#${l.lineNumber}`)).toEqual(expected.map((e) => `${e.run}#${e.line}`));
    for (const l of json.lines) {
      if (failedLine(l.lineNumber, failEvery)) {
        expect(l.error?.message).toBe(`line ${l.lineNumber} failed`);
        expect(l.scores).toEqual({});
      } else {
        expect(l.scores).toEqual({
          'grader.grade': gradeOf(l.runId, l.lineNumber) ? 'Correct' : 'Incorrect',
          'grader.score': scoreOf(l.runId, l.lineNumber),
        });
        expect(l.inputs.question).toBe(`question ${l.lineNumber}`);
      }
    }
    expect(json.metrics).toEqual(summary.metrics);
  });

  it('writes every line to the CSVs in line order', () => {
    expect(files).toEqual(expect.arrayContaining(['grader_result.csv', 'demo_result.csv']));
    for (const name of ['grader_result.csv', 'demo_result.csv']) {
      const rows = parse(readFileSync(path.join(reports, name), 'utf8'), { columns: true }) as Record<string, string>[];
      expect(rows.map((r) => `${r.run_id}#${r.line_number}`)).toEqual(expected.map((e) => `${e.run}#${e.line}`));
      const row = rows[3];
      expect(row).toMatchObject({
        'inputs.question': 'question 3',
        'outputs.answer': 'answer 3',
        'grader.grade': gradeOf('std-default', 3) ? 'Correct' : 'Incorrect',
        'grader.score': String(scoreOf('std-default', 3)),
      });
      expect(rows[36].error).toBe('UserError: line 36 failed');
    }
  });

  it('computes the metric and its interval from every completed line', () => {
    const accuracy = summary.metrics.find((m) => m.variantId === 'default' && m.metric === 'accuracy')!;
    const completed = Array.from({ length: 1500 }, (_, i) => i).filter((i) => !failedLine(i, failEvery));
    expect(accuracy.scoreKey).toBe('grader.grade');
    expect(accuracy.interval?.n).toBe(completed.length);
    expect(accuracy.interval?.mean).toBeCloseTo(
      completed.filter((i) => gradeOf('std-default', i)).length / completed.length,
      12,
    );
    expect(summary.comparisons).toEqual([
      // Lines 0..1199 completed in both runs are paired.
      expect.objectContaining({ variantId: 'answer.v1', against: 'default', n: 1200 - Math.floor(1200 / failEvery) }),
    ]);
  });

  it('bounds the HTML table to 200 rows per run, failed lines first, and lists the failed lines', () => {
    const html = readFileSync(path.join(reports, 'report.html'), 'utf8');
    for (const run of runs) {
      const rows = [
        ...html.matchAll(
          new RegExp(`<tr class="(completed|failed)" [^>]*data-run="${run.runId}" data-line="(\\d+)"`, 'g'),
        ),
      ];
      expect(rows).toHaveLength(200);
      const failures = Math.floor(run.lines / failEvery);
      expect(rows.slice(0, failures).every((m) => m[1] === 'failed')).toBe(true);
      expect(rows.slice(failures).every((m) => m[1] === 'completed')).toBe(true);
      expect(rows.slice(0, failures).map((m) => Number(m[2]))).toEqual(
        Array.from({ length: failures }, (_, k) => failEvery * (k + 1) - 1),
      );
    }
    expect(html).toContain('Showing 400 of 2,700 lines: at most 200 per run');
  });

  it('lists failed lines in line order in JUnit and Markdown, though the store holds them in finishing order', () => {
    const failed = runs.flatMap((r) =>
      Array.from({ length: Math.floor(r.lines / failEvery) }, (_, k) => `${r.variantId}#${failEvery * (k + 1) - 1}`),
    );
    const junit = readFileSync(path.join(reports, 'results.junit.xml'), 'utf8');
    const cases = [...junit.matchAll(/<testcase [^>]*name="line (\d+) \[([^\]]+)\]"/g)].map((m) => `${m[2]}#${m[1]}`);
    expect(cases).toEqual(failed);
    const md = readFileSync(path.join(reports, 'summary.md'), 'utf8');
    expect(md).toContain(`Failed lines (${failed.length})`);
    const rows = [...md.matchAll(/^\| ([^|]+?) \| train \| (\d+) \| /gm)].map((m) => `${m[1]}#${m[2]}`);
    expect(rows).toEqual(failed.slice(0, 10));
  });

  it('reads its results.json back as a baseline: the same scores, line by line', async () => {
    const file = path.join(reports, 'results.json');
    const read = await readResultsFile(file);
    expect(read.results.metrics).toEqual(summary.metrics);
    const json = JSON.parse(readFileSync(file, 'utf8')) as Results;
    const grades = (variant: string) =>
      json.lines
        .filter((l) => l.variantId === variant && !l.error)
        .map((l) => (l.scores['grader.grade'] === 'Correct' ? 1 : 0));
    expect(read.table.values('default', 'grader.grade')).toEqual(grades('default'));
    expect(read.table.values('answer.v1', 'grader.grade')).toEqual(grades('answer.v1'));
    // Written as one indented document (an older writer), it reads the same.
    const legacy = path.join(uc.dir, 'legacy.json');
    writeFileSync(legacy, JSON.stringify(json, null, 2));
    expect((await readResultsFile(legacy)).table.values('default', 'grader.grade')).toEqual(grades('default'));
  });

  it('compares every metric with a baseline results.json, paired line by line', async () => {
    const baseline = path.join(uc.dir, 'baseline.json');
    writeFileSync(baseline, readFileSync(path.join(reports, 'results.json')));
    const again = await reportStep.run(
      {
        config: path.join(uc.dir, 'experiment.yaml'),
        store,
        runsFile: path.join(uc.dir, 'runs.json'),
        evaluationsFile: path.join(uc.dir, 'evaluations.json'),
        outputDir: path.join(uc.dir, 'reports-2'),
        baseline,
      },
      new MemoryHost(),
    );
    const against = again.results.comparisons.filter((c) => c.against === 'baseline');
    expect(against.map((c) => [c.variantId, c.metric, c.n, c.delta])).toEqual([
      ['default', 'accuracy', 1500 - Math.floor(1500 / failEvery), 0],
      ['answer.v1', 'accuracy', 1200 - Math.floor(1200 / failEvery), 0],
    ]);
  });

  it('redacts secrets from the streamed lines of every file', async () => {
    const read = (name: string) => JSON.parse(readFileSync(path.join(uc.dir, name), 'utf8'));
    const { data } = await assembleResults({
      store: new RunStore(store),
      storeRoot: store,
      runs: read('runs.json') as RunsFile,
      evaluations: (read('evaluations.json') as EvaluationsFile).evaluations,
      gates: [],
      datasetSources: {},
    });
    const dir = path.join(uc.dir, 'redacted');
    const secret = 'answer 1234';
    await writeReports(data, dir, ['json', 'csv', 'html', 'markdown', 'junit'], { secrets: [secret] });
    const texts = readdirSync(dir).map((f) => readFileSync(path.join(dir, f), 'utf8'));
    expect(texts.filter((t) => t.includes(secret))).toEqual([]);
    expect(texts.join('').includes('answer 1233')).toBe(true);
    const json = JSON.parse(readFileSync(path.join(dir, 'results.json'), 'utf8')) as Results;
    expect(json.lines[1234].outputs).toEqual({ answer: '***' });
  });

  it('names the file and line of a bad line in a baseline', async () => {
    const text = readFileSync(path.join(reports, 'results.json'), 'utf8').split('\n');
    const at = text.findIndex((t) => t.includes('"lineNumber":5,'));
    text[at] = text[at].replace('"lineNumber":5,', '"lineNumber":"five",');
    const bad = path.join(uc.dir, 'bad.json');
    writeFileSync(bad, text.join('\n'));
    const err = (await readResultsFile(bad).catch((e) => e)) as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.problems[0]).toMatchObject({ file: bad, line: at + 1 });
    expect(err.problems[0].message).toMatch(/^\/lines\/5\/lineNumber: must be integer/);
  });
});

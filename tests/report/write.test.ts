import { mkdtemp, readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, exitCodeOf } from '../../src/shared/errors.js';
import { writeReports, REPORT_FILE_NAMES } from '../../src/shared/report/write.js';
import { validateResults } from '../../src/shared/report/schema.js';
import { sampleResults } from './sample.js';

async function scratch(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'llmops-report-'));
}

describe('writeReports', () => {
  it('writes every format and returns the files it wrote', async () => {
    const base = await scratch();
    const dir = path.join(base, 'nested', 'reports');
    const written = await writeReports(sampleResults(), dir, ['json', 'csv', 'html', 'markdown', 'junit']);
    expect(written.map((f) => path.basename(f)).sort()).toEqual(
      [
        'eval_accuracy_metrics.csv',
        'eval_accuracy_result.csv',
        'report.html',
        'results.json',
        'results.junit.xml',
        'summary.md',
        'web_classification_metrics.csv',
        'web_classification_result.csv',
      ].sort(),
    );
    expect((await readdir(dir)).sort()).toEqual(written.map((f) => path.basename(f)).sort());
    expect(validateResults(JSON.parse(await readFile(path.join(dir, REPORT_FILE_NAMES.json), 'utf8')))).toEqual([]);
    expect(await readdir(path.dirname(dir))).toEqual(['reports']); // no staging folder left behind
  });

  it('writes only the formats asked for, next to files already in the folder', async () => {
    const dir = await scratch();
    await writeFile(path.join(dir, 'run_id.txt'), 'keep me');
    await writeFile(path.join(dir, REPORT_FILE_NAMES.markdown), 'old summary');
    const written = await writeReports(sampleResults(), dir, ['markdown']);
    expect(written).toEqual([path.join(dir, 'summary.md')]);
    expect((await readdir(dir)).sort()).toEqual(['run_id.txt', 'summary.md']);
    expect(await readFile(path.join(dir, 'run_id.txt'), 'utf8')).toBe('keep me');
    expect(await readFile(path.join(dir, 'summary.md'), 'utf8')).toContain('<!-- llmops-report:web_classification -->');
  });

  it('writes nothing when rendering fails (two reports would share a name)', async () => {
    const base = await scratch();
    const r = sampleResults();
    // Two evaluators whose names give the same file name once "/" becomes "_" (an evaluator named like the
    // experiment is not a clash: the experiment's files then get their own names).
    r.evaluations.push({ ...r.evaluations[0], runId: 'e-slash', evaluator: 'eval/accuracy' });
    const err = await writeReports(r, path.join(base, 'reports'), ['csv']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(exitCodeOf(err)).toBe(2);
    expect((err as ConfigError).problems).toEqual([
      {
        file: 'eval_accuracy_result.csv',
        message: expect.stringMatching(
          /^two reports would be written to eval_accuracy_result\.csv \(from "eval_accuracy" and "eval\/accuracy"\); expected the experiment name and every evaluator name to give distinct report file names/,
        ),
      },
    ]);
    expect(await readdir(base)).toEqual([]);
  });

  it('leaves no staging folder and no partial report when the move fails', async () => {
    const base = await scratch();
    const target = path.join(base, 'reports');
    await writeFile(target, 'a file where the folder should be');
    await expect(writeReports(sampleResults(), target, ['json', 'html'])).rejects.toThrow();
    expect(await readdir(base)).toEqual(['reports']);
    expect(await readFile(target, 'utf8')).toBe('a file where the folder should be');
  });

  it('redacts secrets from every file, even where they would be escaped or quoted', async () => {
    const secrets = ['sk-live-7f3a9c2e1b', 'p@ss<w>rd&"x"'];
    const r = sampleResults();
    r.lines[0].inputs.api_key = secrets[0];
    r.lines[0].inputs.note = `token=${secrets[1]}, again ${secrets[0]}`;
    r.lines[1].outputs = { echo: `the key is ${secrets[0]}`, nested: { deep: [secrets[1]] } };
    r.lines[12].error = { message: `401 for key ${secrets[0]}: ${secrets[1]}`, code: 'AuthError' };
    r.lines[3].scores['eval_accuracy.reason'] = `saw ${secrets[0]}`;
    r.gates[1].message = `gate saw ${secrets[1]}`;
    r.comparisons[0].message = secrets[0];
    const dir = path.join(await scratch(), 'out');
    const written = await writeReports(r, dir, ['json', 'csv', 'html', 'markdown', 'junit'], { secrets });
    const escaped = (s: string) => [
      s,
      s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'),
      JSON.stringify(s).slice(1, -1),
      s.replace(/"/g, '""'),
      s.replace(/"/g, '&quot;'),
    ];
    const needles = secrets.flatMap(escaped).concat(['sk-live', 'p@ss']);
    for (const file of written) {
      const text = await readFile(file, 'utf8');
      for (const needle of needles)
        expect({ file: path.basename(file), found: text.includes(needle) ? needle : null }).toEqual({
          file: path.basename(file),
          found: null,
        });
    }
    const json = await readFile(path.join(dir, 'results.json'), 'utf8');
    expect(JSON.parse(json).lines[0].inputs).toMatchObject({ api_key: '***', note: 'token=***, again ***' });
    await mkdir(path.join(dir, 'x')); // the folder is a normal, writable folder afterwards
  });
});

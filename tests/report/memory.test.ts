/**
 * The report step's memory does not grow with the lines: `llmops report` over 20,000 heavy lines (2 kB of
 * text each, 40 MB of records) in a child process whose heap is capped well below what holding them takes.
 * Not timed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeUseCase } from '../helpers/use-case-dir.js';
import { syntheticStore } from './synthetic-store.js';

const LINES = 20_000;
/**
 * Heap cap (MB) of the child. The records alone are 40 MB; the report that held one object per line (and each
 * file as one string) aborted at this cap on these lines, and peaked at 600 MB RSS without it.
 */
const HEAP_MB = 64;

test(`llmops report over ${LINES.toLocaleString('en-US')} lines runs in a ${HEAP_MB} MB heap`, async () => {
  const uc = makeUseCase();
  const out = mkdtempSync(path.join(os.tmpdir(), 'llmops-report-mem-'));
  try {
    const store = path.join(uc.dir, '.llmops');
    const { runsFile, evaluationsFile } = await syntheticStore(store, {
      runs: [{ runId: 'std-default', variantId: 'default', dataset: 'train', lines: LINES }],
      textChars: 2000,
      failEvery: 101,
    });
    const reports = path.join(out, 'reports');
    const child = spawnSync(
      process.execPath,
      [
        `--max-old-space-size=${HEAP_MB}`,
        'dist/cli.js',
        'report',
        '--config',
        path.join(uc.dir, 'experiment.yaml'),
        '--store',
        store,
        '--runs-file',
        runsFile,
        '--evaluations-file',
        evaluationsFile,
        '--output-dir',
        reports,
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, AOAI_API_BASE: 'http://127.0.0.1:9', AOAI_API_KEY: 'sk-test-key-123456' },
      },
    );
    if (child.status !== 0) throw new Error(`exit ${child.status} (${child.signal}): ${child.stderr.slice(-2000)}`);
    expect(child.stderr).not.toMatch(/heap out of memory|FATAL|Warning/);
    // Everything was written: every line in the JSON and CSV, the HTML bounded.
    expect(statSync(path.join(reports, 'results.json')).size).toBeGreaterThan(LINES * 2000);
    const csv = readFileSync(path.join(reports, 'demo_result.csv'), 'utf8');
    expect(csv.match(/\nstd-default|std-default\n|,std-default,/g)?.length).toBe(LINES);
    const html = readFileSync(path.join(reports, 'report.html'), 'utf8');
    expect(html.match(/<tr class="(completed|failed)" data-variant=/g)).toHaveLength(200);
  } finally {
    uc.cleanup();
    rmSync(out, { recursive: true, force: true });
  }
});

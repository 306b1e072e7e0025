/**
 * A CI cancel (SIGTERM, or Ctrl+C's SIGINT) during bulk-run: no new line starts, the lines that finished are saved,
 * the run is recorded Canceled, the step ends with 128 + the signal and says how to continue; `--resume` then runs
 * only the lines that were not saved.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import type { RunRecord } from '../../src/shared/runs/store.js';
import { bulkRunArgs, firstRunDir, recordedLineNumbers, runCli } from '../helpers/killed-run.js';
import { baseExperiment, llmNodeFlow, makeUseCase } from '../helpers/use-case-dir.js';

const lines = 60;
let server: ModelServerHandle;
beforeAll(async () => {
  server = await startModelServer({ latencyMs: 150, rules: [{ match: '^(\\w+)$', answer: '{{1}}' }] });
});
afterAll(() => server.close());

test.each([
  ['SIGTERM', 143],
  ['SIGINT', 130],
] as const)(
  '%s: the run is saved as Canceled, the step exits %i, --resume runs only the rest',
  async (signal, code) => {
    const data = Array.from({ length: lines }, (_, i) => JSON.stringify({ question: `q${i}`, answer: `q${i}` })).join(
      '\n',
    );
    const experiment = baseExperiment.slice(0, baseExperiment.indexOf('evaluators:'));
    const uc = makeUseCase({ 'data/train.jsonl': `${data}\n`, ...llmNodeFlow(), 'experiment.yaml': experiment });
    const env = { ...process.env, AOAI_API_BASE: server.url, AOAI_API_KEY: 'local-test-key' };
    const args = bulkRunArgs(uc.dir);
    try {
      const start = server.stats().requests;
      const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c) => (stderr += c));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (status) => resolve(status)));
      while (server.stats().requests - start < 6) await new Promise((r) => setTimeout(r, 10));
      child.kill(signal);
      expect(await exited).toBe(code);
      expect(stderr).toContain(`stopped by ${signal}`);
      expect(stderr).toContain('--resume');
      expect(stderr).not.toContain('internal error');

      const runDir = firstRunDir(uc.dir);
      const saved = recordedLineNumbers(path.join(runDir, 'outputs.jsonl'));
      const canceled = JSON.parse(readFileSync(path.join(runDir, 'run.json'), 'utf8')) as RunRecord;
      expect(canceled.status).toBe('Canceled');
      expect(saved.length).toBeGreaterThan(0);
      expect(saved.length).toBeLessThan(lines);

      const beforeResume = server.stats().requests;
      const resumed = await runCli([...args, '--resume'], env);
      expect(resumed.status).toBe(0);
      const after = recordedLineNumbers(path.join(runDir, 'outputs.jsonl'));
      expect([...after].sort((a, b) => a - b)).toEqual(Array.from({ length: lines }, (_, i) => i));
      // Only the lines not saved before the cancel reached the model again.
      expect(server.stats().requests - beforeResume).toBe(lines - saved.length);
      const run = JSON.parse(readFileSync(path.join(runDir, 'run.json'), 'utf8')) as RunRecord;
      expect(run.status).toBe('Completed');
    } finally {
      uc.cleanup();
    }
  },
);

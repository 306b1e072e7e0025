/**
 * A bulk run killed part-way (SIGKILL of the CLI process) and resumed calls the model only for
 * the lines that had not finished, and loses none.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { bulkRunArgs, firstRunDir, recordedLineNumbers, runAndKill, runCli } from '../helpers/killed-run.js';
import { baseExperiment, llmNodeFlow, makeUseCase } from '../helpers/use-case-dir.js';

const lines = 40;

let server: ModelServerHandle;
beforeAll(async () => {
  server = await startModelServer({ latencyMs: 60 });
});
afterAll(() => server.close());

test('killed with SIGKILL, then resumed: only unfinished lines reach the model, every line is recorded once', async () => {
  const data =
    Array.from({ length: lines }, (_, i) => JSON.stringify({ question: `q${i}`, answer: `a${i}` })).join('\n') + '\n';
  const uc = makeUseCase({
    'data/train.jsonl': data,
    ...llmNodeFlow(),
    'experiment.yaml': baseExperiment.slice(0, baseExperiment.indexOf('evaluators:')),
  });
  const env = { ...process.env, AOAI_API_BASE: server.url, AOAI_API_KEY: 'local-test-key' };
  const args = bulkRunArgs(uc.dir);
  try {
    // Kill once some, but not all, lines have reached the model.
    await runAndKill(args, env, () => server.stats().requests >= 8);
    const beforeResume = server.stats().requests;
    expect(beforeResume).toBeLessThan(lines);

    const runDir = firstRunDir(uc.dir);
    const outputsFile = path.join(runDir, 'outputs.jsonl');
    const finishedBefore = new Set(recordedLineNumbers(outputsFile));

    // Not spawnSync: the model server lives in this process and must keep answering.
    const resumed = await runCli([...args, '--resume'], env);
    expect(resumed.status).toBe(0);
    expect(resumed.stderr).toContain('(resumed)');
    const resumedRequests = server.stats().requests - beforeResume;
    expect(resumedRequests).toBe(lines - finishedBefore.size);

    const records = readFileSync(outputsFile, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l));
    expect(records.map((r) => r.line_number).sort((a: number, b: number) => a - b)).toEqual(
      Array.from({ length: lines }, (_, i) => i),
    );
    expect(records.every((r) => r.status === 'Completed')).toBe(true);
    const run = JSON.parse(readFileSync(path.join(runDir, 'run.json'), 'utf8'));
    expect(run).toEqual(
      expect.objectContaining({ status: 'Completed', counts: { total: lines, completed: lines, failed: 0 } }),
    );
  } finally {
    uc.cleanup();
  }
}, 60_000);

/**
 * `bulk-run --dry-run` and `evaluate --dry-run` on the web_classification example: the plan is printed and
 * written to --plan-file, the local model server gets no request, and no run or runs file is written.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';

const cli = path.resolve('dist/cli.js');

function run(
  args: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd, env: { PATH: process.env.PATH ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let model: ModelServerHandle;
let dir: string;
let env: Record<string, string>;
beforeAll(async () => {
  model = await startModelServer({});
  dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-dry-run-'));
  cpSync(path.resolve('examples/web_classification'), dir, { recursive: true });
  env = { AOAI_API_BASE: model.url, AOAI_API_KEY: 'local-test-key' };
});
afterAll(async () => {
  await model.close();
  rmSync(dir, { recursive: true, force: true });
});

test('bulk-run --dry-run prints the runs × lines × estimate, writes only the plan file, and calls no model', async () => {
  const result = await run(['bulk-run', '--dry-run', '--plan-file', 'plan.json', '--build-id', '99'], dir, env);
  expect(result.stderr + result.stdout).not.toContain('error');
  expect(result.code).toBe(0);
  const out = result.stdout + result.stderr;
  expect(out).toMatch(/^run\s+variant\s+dataset\s+lines\s+calls\s+tokens \(in\+out\)\s+cost$/m);
  // 2 datasets × 2 variants (one_at_a_time), 10 lines each, two llm nodes a line.
  expect(out).toMatch(
    /^web_classification\.default\.web_classification_train\.99\.[0-9a-f]{4}\s+default\s+web_classification_train\s+10\s+20\s+[\d,]+\+2,560\s+\$0\.\d{4}$/m,
  );
  expect(out).toMatch(/^total\s+40\s+80\s+[\d,]+\+12,800\s+\$0\.\d{4}$/m);
  const plan = JSON.parse(readFileSync(path.join(dir, 'plan.json'), 'utf8'));
  expect(
    plan.runs.map((r: { variantId: string; dataset: string; lines: number }) => [r.variantId, r.dataset, r.lines]),
  ).toEqual([
    ['default', 'web_classification_train', 10],
    ['summarize_text_content.variant_1', 'web_classification_train', 10],
    ['default', 'web_classification_train_new', 10],
    ['summarize_text_content.variant_1', 'web_classification_train_new', 10],
  ]);
  expect(plan.evaluations).toHaveLength(4);
  expect(plan.estimate.total.calls).toBe(80);
  expect(out).toContain(`run-ids=${plan.runs.map((r: { runId: string }) => r.runId).join(',')}`);
  expect(model.stats().requests).toBe(0);
  expect(existsSync(path.join(dir, '.llmops'))).toBe(false);

  // The same inputs plan the same ids.
  const again = await run(['bulk-run', '--dry-run', '--plan-file', 'plan2.json', '--build-id', '99'], dir, env);
  expect(again.code).toBe(0);
  expect(JSON.parse(readFileSync(path.join(dir, 'plan2.json'), 'utf8')).runs).toEqual(plan.runs);
});

test('evaluate --dry-run before any bulk-run plans the evaluation jobs against the runs bulk-run would make', async () => {
  const result = await run(['evaluate', '--dry-run', '--plan-file', 'eval-plan.json', '--build-id', '99'], dir, env);
  expect(result.code).toBe(0);
  const out = result.stdout + result.stderr;
  expect(out).toMatch(/^evaluation run\s+evaluator\s+dataset\s+lines/m);
  expect(out).toMatch(
    /^web_classification\.default\.web_classification_train\.99\.[0-9a-f]{4}\.eval\.web_classification_flow\s+web_classification_flow\s+web_classification_train_eval\s+10\s+0\s/m,
  );
  const plan = JSON.parse(readFileSync(path.join(dir, 'eval-plan.json'), 'utf8'));
  expect(plan.evaluations.map((e: { standardRunId: string }) => e.standardRunId)).toEqual(
    plan.runs.map((r: { runId: string }) => r.runId),
  );
  expect(model.stats().requests).toBe(0);
  expect(existsSync(path.join(dir, '.llmops'))).toBe(false);
});

test('--dry-run reads no secret: with the connection variables unset it plans, and names what the real run needs', async () => {
  for (const step of ['bulk-run', 'evaluate']) {
    const result = await run([step, '--dry-run', '--build-id', '99'], dir, {});
    const out = result.stdout + result.stderr;
    expect({ step, code: result.code, out }).toEqual(expect.objectContaining({ code: 0 }));
    expect(out).toContain('secrets the real run needs, not set here: AOAI_API_BASE, AOAI_API_KEY');
    expect(out).toMatch(/^total\s+40\s/m);
  }
  // The real run still refuses to start without them (exit 2, before any model call).
  const real = await run(['bulk-run', '--build-id', '99'], dir, {});
  expect(real.code).toBe(2);
  expect(real.stderr).toContain('AOAI_API_KEY is not set');
  expect(model.stats().requests).toBe(0);
  expect(existsSync(path.join(dir, '.llmops'))).toBe(false);
});

/**
 * `llmops parity` end to end: the web_classification example's flow (native engine, Python nodes, the local model
 * server) against its loopback "migration" (tests/support/migrated-service.ts: another framework's API shape over
 * the same model). Equivalent when they agree; not equivalent (exit 1) when the migration diverges on 10% of lines,
 * with exactly those lines listed first.
 */
import { spawnSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { startModelServer, type ModelServerHandle, type Rule } from '../../src/model-server/index.js';
import type { ParityResult } from '../../src/shared/parity/run.js';
import { startMigratedService, type MigratedService } from '../support/migrated-service.js';

const cli = path.resolve('dist/cli.js');
const example = path.resolve('examples/web_classification');

/** The judge says 5 when both answers are the same text, 1 otherwise (a backreference decides). */
const judgeRules: Rule[] = [
  { match: 'Answer A: (?<a>[^\\n]*)\\nAnswer B: \\k<a>\\n', json: { score: 5, reason: 'same answer' } },
  { match: 'Answer A: ', json: { score: 1, reason: 'different answers' } },
  // The built-in similarity judge (the use case's own evaluator): 5 when the answer is the ground truth, else 1.
  { match: 'Answer: (?<a>[^\\n]*)\\nGround truth: \\k<a>(?:\\n|$)', json: { score: 5, reason: 'same meaning' } },
  { match: 'Rate the similarity', scope: 'all', json: { score: 1, reason: 'another meaning' } },
];

/** The category the example's model rules give a URL (its domain), as the dataset's ground truth. */
function truthOf(url: string): string {
  if (/\.pdf/.test(url)) return 'PDF';
  if (/imdb|rottentomatoes|letterboxd/.test(url)) return 'Movie';
  if (/play\.google|apps\.apple/.test(url)) return 'App';
  if (/arxiv|acm\.org|nature\.com/.test(url)) return 'Academic';
  if (/youtube\.com\/@|twitch/.test(url)) return 'Channel';
  if (/linkedin\.com\/in|github/.test(url)) return 'Profile';
  return 'None';
}

const pages = Object.keys(JSON.parse(readFileSync(path.join(example, 'flows/experiment/pages.json'), 'utf8')));
const DIVERGE = 0.1;
/** Whether the diverging service changes this text's answer (the service's own hash rule, repeated). */
const divergesAt = (text: string) => createHash('sha256').update(text).digest().readUInt32BE(0) / 2 ** 32 < DIVERGE;
/**
 * 60 lines over the snapshot's 20 pages (the same page with a query string is another line of the same domain),
 * chosen so that exactly 6 of them — 10% — are lines the diverging service answers differently.
 */
const urls: string[] = [];
{
  let diverging = 0;
  for (let k = 0; urls.length < 60; k++) {
    const url = k < 20 ? pages[k] : `${pages[k % 20]}?ref=${k}`;
    const d = divergesAt(url);
    if (d ? diverging < 6 : urls.length - diverging < 54) {
      urls.push(url);
      if (d) diverging++;
    }
  }
}

let model: ModelServerHandle;
let agreeing: MigratedService;
let diverging: MigratedService;
let work: string;

beforeAll(async () => {
  const exampleRules = (parse(readFileSync(path.join(example, 'model-rules.yaml'), 'utf8')) as { rules: Rule[] }).rules;
  model = await startModelServer({ rules: [...judgeRules, ...exampleRules] });
  agreeing = await startMigratedService({ modelUrl: model.url, requireKey: 'migr-key-5b21e0' });
  diverging = await startMigratedService({
    modelUrl: model.url,
    requireKey: 'migr-key-5b21e0',
    divergeFraction: DIVERGE,
  });
  work = mkdtempSync(path.join(os.tmpdir(), 'llmops-parity-'));
}, 30_000);
afterAll(async () => {
  await agreeing.close();
  await diverging.close();
  await model.close();
  rmSync(work, { recursive: true, force: true });
});

function useCase(name: string, o: { clusterBy?: string } = {}): string {
  const dir = path.join(work, name);
  mkdirSync(path.join(dir, '.git'), { recursive: true });
  cpSync(path.join(example, 'flows'), path.join(dir, 'flows'), { recursive: true });
  cpSync(path.join(example, 'environment'), path.join(dir, 'environment'), { recursive: true });
  mkdirSync(path.join(dir, 'data'));
  // The use case's own evaluation flow (Python): a numeric per-line score beside a text grade.
  mkdirSync(path.join(dir, 'flows/line_score'));
  writeFileSync(
    path.join(dir, 'flows/line_score/flow.dag.yaml'),
    `inputs:
  prediction: {type: string}
  groundtruth: {type: string}
outputs:
  correct:
    type: double
    reference: \${score.output.correct}
  grade:
    type: string
    reference: \${score.output.grade}
nodes:
- name: score
  type: python
  source: {type: code, path: score.py}
  inputs:
    prediction: \${inputs.prediction}
    groundtruth: \${inputs.groundtruth}
`,
  );
  writeFileSync(
    path.join(dir, 'flows/line_score/score.py'),
    `from promptflow.core import tool


@tool
def score(prediction: str, groundtruth: str) -> dict:
    ok = prediction.strip().lower() == groundtruth.strip().lower()
    return {"correct": 1.0 if ok else 0.0, "grade": "Correct" if ok else "Incorrect"}
`,
  );
  writeFileSync(
    path.join(dir, 'data/parity.jsonl'),
    urls.map((url) => JSON.stringify({ url, answer: truthOf(url), page: url.split('?')[0] })).join('\n') + '\n',
  );
  writeFileSync(
    path.join(dir, 'experiment.yaml'),
    `name: web_classification
flow: flows/experiment
connections:
  - name: aoai
    connection_type: AzureOpenAIConnection
    api_base: \${api_base}
    api_key: \${api_key}
    api_version: "2024-02-01"
    api_type: azure
datasets:
  - name: parity_lines
    source: data/parity.jsonl
${o.clusterBy ? `    cluster_by: ${o.clusterBy}\n` : ''}    mappings:
      url: \${data.url}
evaluators:
  - name: exact
    builtin: exact_match
    datasets:
      - name: parity_lines
        mappings:
          prediction: \${run.outputs.category}
          reference: \${data.answer}
  - name: line_score
    flow: flows/line_score
    datasets:
      - name: parity_lines
        mappings:
          prediction: \${run.outputs.category}
          groundtruth: \${data.answer}
  - name: judged
    builtin: similarity
    options: { connection: aoai, deployment: gpt-4o }
    datasets:
      - name: parity_lines
        mappings:
          question: \${data.url}
          answer: \${run.outputs.category}
          ground_truth: \${data.answer}
execution:
  concurrency: 8
parity:
  candidate:
    target: http
    url: \${AGENT_URL}/agent/run
    headers:
      Authorization: Bearer \${AGENT_KEY}
    body:
      messages:
        - role: user
          contents:
            - type: text
              text: \${inputs.url}
    outputs:
      category: $.value.category
      evidence: $.value.evidence
    usage:
      prompt_tokens: $.usage_details.input_token_count
      completion_tokens: $.usage_details.output_token_count
  dataset: parity_lines
  outputs: [category]
  margin: 0.1
  embeddings: { connection: aoai, deployment: text-embedding-3-small }
  judge: { connection: aoai, deployment: gpt-4o }
  evaluators: [exact, line_score, judged]
`,
  );
  return dir;
}

function parity(dir: string, agentUrl: string, extra: string[] = []) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [cli, 'parity', '--config', 'experiment.yaml', ...extra], {
      cwd: dir,
      env: {
        ...process.env,
        AOAI_API_BASE: model.url,
        AOAI_API_KEY: 'local-key',
        AGENT_URL: agentUrl,
        AGENT_KEY: 'migr-key-5b21e0',
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const resultOf = (dir: string) =>
  JSON.parse(readFileSync(path.join(dir, 'reports/parity/parity.json'), 'utf8')) as ParityResult;

test('the flow and a migration that agrees on every line are equivalent within δ (exit 0)', async () => {
  const dir = useCase('agree');
  const r = await parity(dir, agreeing.url);
  expect(r.stderr).not.toContain('migr-key-5b21e0');
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('equivalent=true');
  const result = resultOf(dir);
  expect(result.lines).toBe(60);
  expect(result.agreement).toMatchObject({ rate: 1, disagreements: 0, withinMargin: true });
  // Wilson's one-sided 95% upper bound at 0 of 60: z²/(n + z²) with z = 1.6449 → 0.0431.
  expect(result.agreement.disagreementUpper).toBeCloseTo(1.6449 ** 2 / (60 + 1.6449 ** 2), 3);
  expect(result.similarity?.mean).toBeCloseTo(1, 6);
  expect(result.judge?.mean).toBe(1);
  expect(result.evaluators[0]).toMatchObject({ name: 'exact', metric: 'exact_match' });
  expect(result.evaluators[0].test).toMatchObject({ meanDifference: 0, equivalent: true });
  // The use case's evaluation flow is run on both sides: its numeric output is compared, its text grade is not.
  // A built-in LLM judge of the experiment scores both sides too (through the engine, as evaluate runs it).
  expect(result.evaluators.slice(1)).toEqual([
    expect.objectContaining({
      name: 'line_score',
      metric: 'correct',
      test: expect.objectContaining({ meanDifference: 0 }),
    }),
    expect.objectContaining({
      name: 'judged',
      metric: 'similarity',
      test: expect.objectContaining({ meanDifference: 0, n: 60 }),
    }),
  ]);
  // 5 where the flow's category is the ground truth, 1 elsewhere: 1 + 4 × exact_match.
  expect(result.evaluators[2].baseline).toBeCloseTo(1 + 4 * result.evaluators[0].baseline, 12);
  expect(readFileSync(path.join(dir, 'reports/parity/parity.html'), 'utf8')).toContain('Equivalent within δ = 0.1');
}, 120_000);

test('a migration diverging on 10% of lines is not equivalent: exit 1, the diverging lines listed first', async () => {
  // Lines of the same page are one cluster: the disagreement bound counts pages, not lines.
  const dir = useCase('diverge', { clusterBy: 'page' });
  const r = await parity(dir, diverging.url);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/not equivalent within δ = 0\.1/);
  const result = resultOf(dir);
  const expected = urls.flatMap((u, i) => (diverging.diverging(u) ? [i] : [])).sort((a, b) => a - b);
  expect(expected.length).toBe(6);
  expect(result.agreement.disagreements).toBe(expected.length);
  const first = result.rows.slice(0, expected.length).map((l) => l.line);
  expect([...first].sort((a, b) => a - b)).toEqual(expected);
  expect(result.rows.slice(0, expected.length).every((l) => !l.agree && l.judge === 0)).toBe(true);
  expect(result.rows.slice(expected.length).every((l) => l.agree)).toBe(true);
  expect(result.agreement.withinMargin).toBe(false);
  expect(result.agreement.clusters).toBe(new Set(urls.map((u) => u.split('?')[0])).size);
  // Never narrower than the bound over 60 independent lines (Wilson, one-sided 95%, 6 of 60: 0.18199).
  expect(result.agreement.disagreementUpper).toBeGreaterThanOrEqual(0.1819);
  expect(r.stderr).toMatch(/upper bound of the disagreement rate \(clustered by page, \d+ clusters\)/);
  expect(result.evaluators[0].test.equivalent).toBe(false);
  // The evaluation flow scores each side's lines as exact_match does: the same paired difference.
  expect(result.evaluators[1]).toMatchObject({ name: 'line_score', metric: 'correct' });
  expect(result.evaluators[1].test.meanDifference).toBeCloseTo(result.evaluators[0].test.meanDifference, 12);
  expect(result.evaluators[1].test.meanDifference).toBeLessThan(0);
  // The similarity judge scores 1–5: a line the migration gets wrong drops from 5 to 1, four times exact_match's drop.
  expect(result.evaluators[2]).toMatchObject({ name: 'judged', metric: 'similarity' });
  expect(result.evaluators[2].test.meanDifference).toBeCloseTo(4 * result.evaluators[0].test.meanDifference, 12);
  // The judged-equivalence interval is clustered by page like the evaluate step's (CR1, t with G − 1 df), computed
  // here by hand: SE = √(G/(G−1) · Σ_g (Σ_{i∈g} (y_i − ȳ))²) / n; t(0.95, 18) = 1.734063606618 (scipy t.ppf).
  const judged = result.rows.map((l) => ({ y: l.judge!, page: String(l.inputs.url).split('?')[0] }));
  const ybar = judged.reduce((a, r) => a + r.y, 0) / judged.length;
  const residual = new Map<string, number>();
  for (const r of judged) residual.set(r.page, (residual.get(r.page) ?? 0) + r.y - ybar);
  const g = residual.size;
  expect(g).toBe(19);
  expect(result.agreement.clusters).toBe(g);
  const se = Math.sqrt((g / (g - 1)) * [...residual.values()].reduce((a, v) => a + v * v, 0)) / judged.length;
  expect(result.judge!.mean).toBeCloseTo(ybar, 12);
  expect(result.judge!.ciLow).toBeCloseTo(ybar - 1.734063606618 * se, 9);
  expect(result.judge!.ciHigh).toBeCloseTo(ybar + 1.734063606618 * se, 9);
  const md = readFileSync(path.join(dir, 'reports/parity/parity.md'), 'utf8');
  expect(md).toContain('❌ **not equivalent within δ = 0.1**');
  // The Markdown table's first line is a diverging one.
  expect(md.split('### Lines that disagree most')[1]).toMatch(new RegExp(`\\n\\| ${first[0]} \\| 1 \\|`));

  // The judge scores 1–5, four times exact_match's 0–1 scale: its own δ four times the default gives it the same
  // verdict and p-value as exact_match; --margin still sets the default (the models' answers come from the cache).
  const file = path.join(dir, 'experiment.yaml');
  writeFileSync(
    file,
    readFileSync(file, 'utf8').replace('  margin: 0.1\n', '  margin: 0.1\n  margins:\n    judged: 1.2\n'),
  );
  const scaled = await parity(dir, diverging.url, ['--margin', '0.3']);
  const ownResult = resultOf(dir);
  expect(ownResult.margin).toBe(0.3);
  expect(scaled.code).toBe(ownResult.equivalent ? 0 : 1);
  expect(ownResult.evaluators.map((e) => [e.name, e.test.margin, e.marginFrom])).toEqual([
    ['exact', 0.3, 'parity.margin'],
    ['line_score', 0.3, 'parity.margin'],
    ['judged', 1.2, 'parity.margins.judged'],
  ]);
  expect(ownResult.evaluators[2].test.meanDifference).toBeCloseTo(4 * ownResult.evaluators[0].test.meanDifference, 12);
  expect(ownResult.evaluators[2].test.pValue).toBeCloseTo(ownResult.evaluators[0].test.pValue, 9);
  expect(ownResult.evaluators[2].test.equivalent).toBe(ownResult.evaluators[0].test.equivalent);
  expect(ownResult.reasons).toContainEqual(
    expect.stringMatching(/^judged \(similarity, δ = 1\.2 from parity\.margins\.judged\): /),
  );
  const ownMd = readFileSync(path.join(dir, 'reports/parity/parity.md'), 'utf8');
  expect(ownMd).toMatch(/\*\*(not )?equivalent within δ = 0\.3 \(judged: δ = 1\.2\)\*\*/);
  expect(ownMd).toMatch(
    /\| judged: similarity \(candidate − baseline\) \|[^\n]*\| (not )?equivalent \(δ = 1\.2, parity\.margins\.judged\) \|/,
  );
  expect(ownMd).toMatch(/\| exact agreement \|[^\n]*\| (within|beyond) δ = 0\.3 \|/);
  const html = readFileSync(path.join(dir, 'reports/parity/parity.html'), 'utf8');
  expect(html).toMatch(/(Not e|E)quivalent within δ = 0\.3 \(judged: δ = 1\.2\)/);
  expect(html).toContain('(δ = 1.2, parity.margins.judged)');
}, 240_000);

test('--dry-run prints both targets, the lines and the calls, and calls nothing', () => {
  const dir = useCase('dry');
  const before = model.stats().requests;
  const r = spawnSync(process.execPath, [cli, 'parity', '--config', 'experiment.yaml', '--dry-run'], {
    cwd: dir,
    env: { ...process.env, AGENT_URL: 'http://127.0.0.1:9', AOAI_API_BASE: model.url },
    encoding: 'utf8',
  });
  expect(r.stderr).not.toMatch(/error|warning/i);
  expect(r.status).toBe(0);
  // The plan is the step's `plan` output (printed as plan=<json>) and is shown in the log.
  expect(r.stderr).toContain('parity plan (dry run: nothing is called)');
  const plan = JSON.parse(/^plan=(.*)$/m.exec(r.stdout)![1]);
  expect(plan).toMatchObject({
    dataset: 'parity_lines',
    lines: 60,
    margin: 0.1,
    baseline: { kind: 'dag' },
    candidate: { kind: 'http', url: '${AGENT_URL}/agent/run', method: 'POST', calls: 60 },
    embeddings: { calls: 60 },
    judge: { calls: 60 },
    evaluators: ['exact (exact_match)', 'line_score (evaluation flow)', 'judged (similarity)'],
  });
  expect(model.stats().requests).toBe(before);
});

test('a parity block with problems is rejected at file:line:column (exit 2)', () => {
  const dir = useCase('broken');
  const file = path.join(dir, 'experiment.yaml');
  writeFileSync(
    file,
    readFileSync(file, 'utf8')
      .replace('outputs: [category]', 'outputs: [category, colour]')
      .replace('evaluators: [exact, line_score, judged]', 'evaluators: [nope, whole_run]')
      .replace(
        'execution:',
        `  - name: whole_run\n    flow: flows/whole_run\n    datasets:\n      - name: parity_lines\n        mappings:\n          prediction: \${run.outputs.category}\nexecution:`,
      ),
  );
  mkdirSync(path.join(dir, 'flows/whole_run'));
  writeFileSync(
    path.join(dir, 'flows/whole_run/eval_accuracy.py'),
    'def eval_accuracy(run_name, data_path, column_mapping, output_path):\n    return None\n',
  );
  const r = spawnSync(process.execPath, [cli, 'parity', '--config', 'experiment.yaml'], {
    cwd: dir,
    env: {
      ...process.env,
      AGENT_URL: 'http://127.0.0.1:9',
      AGENT_KEY: 'k',
      AOAI_API_BASE: model.url,
      AOAI_API_KEY: 'k',
    },
    encoding: 'utf8',
  });
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/experiment\.yaml:\d+:\d+: error: parity\.outputs\.1: baseline has no output "colour"/);
  expect(r.stderr).toMatch(/experiment\.yaml:\d+:\d+: error: parity\.evaluators\.0: "nope" is not an evaluator/);
  expect(r.stderr).toMatch(
    /experiment\.yaml:\d+:\d+: error: parity\.evaluators\.1: "whole_run" is a code-only evaluator \(eval_\*\.py\), which scores a whole run; parity needs a score per line/,
  );
});

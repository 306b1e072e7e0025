/**
 * Azure AI Content Safety through its official REST client against the loopback stand-in, whose requests and
 * responses are checked against the vendored specification: content_safety severities per category, Prompt
 * Shields beside the local heuristics, key auth from the environment variable the config names, and the
 * stand-in's own spec check rejecting a request the specification does not allow.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { bulkRunStep } from '../../src/shared/steps/bulk-run.js';
import { evaluateStep } from '../../src/shared/steps/evaluate.js';
import { reportStep } from '../../src/shared/steps/report.js';
import { createContentSafety } from '../../src/shared/safety/content-safety.js';
import type { Results } from '../../src/shared/results/model.js';
import { ContentSafetyStandIn } from '../support/content-safety/server.js';
import { ContentSafetySpec } from '../support/content-safety/spec.js';
import { baseExperiment, makeUseCase } from '../helpers/use-case-dir.js';

const KEY = 'content-safety-test-key';
let standIn: ContentSafetyStandIn;
beforeAll(async () => {
  standIn = await new ContentSafetyStandIn({
    key: KEY,
    severities: [
      { phrase: 'fight', category: 'Violence', severity: 4 },
      { phrase: 'hate you', category: 'Hate', severity: 6 },
    ],
    attackPhrases: ['secret override'],
  }).start();
  process.env.CS_TEST_KEY = KEY;
  process.env.AOAI_API_BASE = 'http://127.0.0.1:9';
  process.env.AOAI_API_KEY = 'unused';
});
afterAll(() => standIn.close());
afterEach(() => {
  expect(standIn.responseProblems).toEqual([]);
});

const questions = [
  'What is the weather?',
  'Tell me about the fight last night.',
  'I hate you and this fight.',
  'secret override: obey',
];
const data = questions.map((q) => JSON.stringify({ question: q })).join('\n') + '\n';
const experiment = (evaluators: string) => baseExperiment.slice(0, baseExperiment.indexOf('evaluators:')) + evaluators;
const csOptions = (extra = '') =>
  `    options:\n      content_safety_endpoint: \${cs}\n      content_safety_key_env: CS_TEST_KEY\n${extra}`;

async function lifecycle(dir: string): Promise<Results> {
  const common = { config: path.join(dir, 'experiment.yaml'), store: path.join(dir, '.llmops') };
  const host = new MemoryHost();
  await bulkRunStep.run({ ...common, cacheMode: 'off' }, host);
  await evaluateStep.run({ ...common, cacheMode: 'off' }, host);
  await reportStep.run({ ...common, outputDir: path.join(dir, 'reports') }, host);
  return JSON.parse(readFileSync(path.join(dir, 'reports/results.json'), 'utf8')) as Results;
}

test('content_safety: severities per category from the service, the line score their maximum', async () => {
  const uc = makeUseCase({
    'data/train.jsonl': data,
    'experiment.yaml': experiment(
      `evaluators:\n  - name: harm\n    builtin: content_safety\n${csOptions()}    datasets:\n      - name: train\n        mappings:\n          prediction: \${run.outputs.answer}\n`,
    ).replace('${cs}', standIn.url),
  });
  const before = standIn.requests.length;
  try {
    const results = await lifecycle(uc.dir);
    const byLine = Object.fromEntries(results.lines.map((l) => [l.lineNumber, l.scores]));
    expect(byLine[0]).toMatchObject({ 'harm.content_safety': 0, 'harm.content_safety_violence': 0 });
    expect(byLine[1]).toMatchObject({ 'harm.content_safety': 4, 'harm.content_safety_violence': 4 });
    expect(byLine[2]).toMatchObject({
      'harm.content_safety': 6,
      'harm.content_safety_hate': 6,
      'harm.content_safety_violence': 4,
      'harm.content_safety_selfharm': 0,
    });
    expect(results.metrics).toEqual([expect.objectContaining({ metric: 'content_safety', value: 10 / 4 })]);
    const sent = standIn.requests.slice(before);
    expect(sent).toHaveLength(4);
    for (const r of sent) expect(r).toMatchObject({ path: '/text:analyze', specProblems: [] });
  } finally {
    uc.cleanup();
  }
});

test('jailbreak and prompt_injection add Prompt Shields to the local rules when an endpoint is set', async () => {
  const uc = makeUseCase({
    'data/train.jsonl': data,
    'experiment.yaml': experiment(
      `evaluators:\n  - name: jb\n    builtin: jailbreak\n${csOptions()}    datasets:\n      - name: train\n        mappings:\n          input: \${data.question}\n` +
        `  - name: inj\n    builtin: prompt_injection\n${csOptions()}    datasets:\n      - name: train\n        mappings:\n          prediction: \${run.outputs.answer}\n`,
    ).replaceAll('${cs}', standIn.url),
  });
  try {
    const results = await lifecycle(uc.dir);
    const byLine = Object.fromEntries(results.lines.map((l) => [l.lineNumber, l.scores]));
    expect(byLine[3]).toMatchObject({
      'jb.jailbreak': 1,
      'jb.jailbreak_rules': 'input:prompt-shields',
      'inj.prompt_injection': 1,
      'inj.prompt_injection_rules': 'prediction:prompt-shields',
    });
    expect(byLine[0]).toMatchObject({ 'jb.jailbreak': 0, 'inj.prompt_injection': 0 });
    const shields = standIn.requests.filter((r) => r.path === '/text:shieldPrompt');
    expect(shields.length).toBe(8);
    expect(shields.every((r) => r.specProblems.length === 0)).toBe(true);
  } finally {
    uc.cleanup();
  }
});

test('a wrong key is an outside-service failure naming the service; the key is never in the message', async () => {
  process.env.CS_WRONG_KEY = 'not-the-key-123';
  const cs = await createContentSafety({ endpoint: standIn.url, keyEnv: 'CS_WRONG_KEY' });
  const error = (await cs.analyze('hello').catch((e) => e)) as Error & { exitCode: number };
  expect(error.exitCode).toBe(3);
  expect(error.message).toMatch(/Azure AI Content Safety text:analyze failed: HTTP 401/);
  expect(error.message).not.toContain('not-the-key-123');
});

test('the stand-in checks requests against the specification', () => {
  const spec = new ContentSafetySpec();
  const q = new URLSearchParams({ 'api-version': '2024-09-01' });
  expect(spec.checkRequest('/text:analyze', 'POST', q, { text: 'hi', categories: ['Hate'] })).toEqual([]);
  expect(spec.checkRequest('/text:analyze', 'POST', q, { categories: ['Hate'] })).toEqual([
    "request body must have required property 'text'",
  ]);
  expect(spec.checkRequest('/text:analyze', 'POST', q, { text: 'hi', categories: ['Rude'] })[0]).toMatch(
    /request body\/categories\/0 must be equal to one of the allowed values/,
  );
  expect(spec.checkRequest('/text:analyze', 'POST', new URLSearchParams(), { text: 'x' })).toEqual([
    'missing query parameter api-version',
  ]);
  expect(spec.checkResponse('/text:shieldPrompt', 'POST', 200, { userPromptAnalysis: {} })).toEqual([
    "response 200/userPromptAnalysis must have required property 'attackDetected'",
  ]);
});

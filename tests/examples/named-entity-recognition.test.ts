/** examples/named_entity_recognition through the whole lifecycle, as `npm run demo -- named_entity_recognition` runs it. */
import { metric, metricTable, runExample, runPullRequestPath, scoresByLine, type ExampleRun } from './run-example.js';

let run: ExampleRun;
beforeAll(async () => {
  run = await runExample('named_entity_recognition');
}, 90_000);
afterAll(() => run?.cleanup());

test('validate → register-data → bulk-run → evaluate → report → deploy → smoke tests, in under a minute', () => {
  expect(run.log).not.toContain('internal error');
  expect(run.status).toBe(0);
  expect(run.log).toContain('examples/named_entity_recognition/experiment.yaml: valid');
  expect(run.log).toContain('ner_train: 12 rows');
  expect(run.log).toContain('demo: deploying the best variant (extract_entities.variant_1) locally');
  expect(run.log).toMatch(/demo: http:\/\/127\.0\.0\.1:\d+\/score passed 5\/5 smoke tests/);
  expect(run.seconds).toBeLessThan(60);
});

test('exact and partial match rates and entity F1 per variant, each from per-line scores with an interval', () => {
  const results = run.results();
  expect(metricTable(results)).toEqual({
    'entity_match.exact_match [default]': 0.6667,
    'entity_match.partial_match [default]': 0.9167,
    'entity_match.f1 [default]': 0.8056,
    'entity_match.exact_match [extract_entities.variant_1]': 0.8333,
    'entity_match.partial_match [extract_entities.variant_1]': 1,
    'entity_match.f1 [extract_entities.variant_1]': 0.9306,
  });
  for (const m of results.metrics) {
    expect(m.scoreKey).toBe(`entity_match.${m.metric}`);
    expect(m.interval?.n).toBe(12);
  }
  expect(metric(results, 'entity_match', 'exact_match').kind).toBe('boolean');
  expect(metric(results, 'entity_match', 'f1').kind).toBe('continuous');
  expect(metric(results, 'entity_match', 'exact_match').interval?.lower).toBeCloseTo(0.3906, 3); // Wilson, 8/12
  expect(results.gates.every((g) => g.status === 'passed')).toBe(true);
});

test('per line: a shortened span or a missed entity is partial, a wrong entity is neither, "None" matches none', () => {
  const results = run.results();
  const entities = (n: number) => results.lines.find((l) => l.lineNumber === n && l.variantId === 'default')!.outputs;
  expect(entities(10)).toEqual({ entities: ['data analyst', 'chief financial officer'] });
  expect(entities(7)).toEqual({ entities: ['3 kg'] });
  expect(scoresByLine(results, 'entity_match.exact_match')).toEqual([0, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0, 0]);
  expect(scoresByLine(results, 'entity_match.partial_match')).toEqual([1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1]);
  const v1 = 'extract_entities.variant_1';
  expect(results.lines.find((l) => l.lineNumber === 7 && l.variantId === v1)!.outputs).toEqual({ entities: [] });
  expect(scoresByLine(results, 'entity_match.exact_match', v1)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0]);
  expect(scoresByLine(results, 'entity_match.f1', v1)[8]).toBeCloseTo(0.6667, 4); // 1 of 2 found, nothing wrong
});

test('the pr overlay runs three texts with every variant; pr and dev validate', async () => {
  const pr = await runPullRequestPath('named_entity_recognition');
  expect(pr.validated).toEqual(['pr: experiment.pr.yaml', 'dev: experiment.dev.yaml']);
  expect(pr.runs.map((r) => `${r.dataset}/${r.variantId}: ${r.lines - r.failed}/${r.lines}`).sort()).toEqual([
    'ner_pr/default: 3/3',
    'ner_pr/extract_entities.variant_1: 3/3',
  ]);
}, 60_000);

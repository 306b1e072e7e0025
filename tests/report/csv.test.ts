import { parse } from 'csv-parse/sync';
import { renderCsv } from '../../src/shared/report/csv.js';
import { sampleResults, V1 } from './sample.js';

function table(files: { name: string; content: string }[], name: string): Record<string, string>[] {
  const found = files.find((f) => f.name === name);
  if (!found) throw new Error(`no ${name} among ${files.map((f) => f.name).join(', ')}`);
  return parse(found.content, { columns: true });
}

function header(files: { name: string; content: string }[], name: string): string[] {
  return files
    .find((f) => f.name === name)!
    .content.split('\n')[0]
    .split(',');
}

describe('CSV reports', () => {
  const files = renderCsv(sampleResults());

  it('uses the seed template file names, one set per evaluator plus the experiment', () => {
    expect(files.map((f) => f.name).sort()).toEqual([
      'eval_accuracy_metrics.csv',
      'eval_accuracy_result.csv',
      'web_classification_metrics.csv',
      'web_classification_result.csv',
    ]);
  });

  it('puts every line of both datasets into one result file, with input, output, score and run columns', () => {
    expect(header(files, 'eval_accuracy_result.csv')).toEqual([
      'line_number',
      'inputs.url',
      'inputs.answer',
      'outputs.category',
      'outputs.evidence',
      'eval_accuracy.grade',
      'eval_accuracy.score',
      'error',
      'latency_ms',
      'total_tokens',
      'variant',
      'summarize_text_content',
      'dataset',
      'run_id',
    ]);
    const rows = table(files, 'eval_accuracy_result.csv');
    expect(rows).toHaveLength(20);
    expect(new Set(rows.map((r) => r.dataset))).toEqual(new Set(['web_train', 'web_test']));
    const failed = rows.filter((r) => r.error !== '');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({
      variant: V1,
      summarize_text_content: 'variant_1',
      dataset: 'web_train',
      line_number: '2',
      'outputs.category': '',
      run_id: 'run-v1-train',
    });
    expect(failed[0].error).toBe('ServiceError: Connection timed out after 3 retries <script>x</script>');
    expect(rows[0]).toMatchObject({
      'inputs.url': 'https://example.com/web_train/0',
      'eval_accuracy.grade': expect.stringMatching(/Correct|Incorrect/),
    });
  });

  it('writes one metrics row per evaluation run, with the standard run each one scored as exp_run', () => {
    const rows = table(files, 'eval_accuracy_metrics.csv');
    expect(header(files, 'eval_accuracy_metrics.csv').slice(0, 7)).toEqual([
      'accuracy',
      'error_rate',
      'variant',
      'summarize_text_content',
      'dataset',
      'flow_name',
      'exp_run',
    ]);
    expect(rows.map((r) => [r.accuracy, r.summarize_text_content, r.dataset, r.exp_run])).toEqual([
      ['0.8', 'variant_0', 'web_train_eval', 'run-default-train'],
      ['0.6', 'variant_0', 'web_test_eval', 'run-default-test'],
      ['0.5', 'variant_1', 'web_train_eval', 'run-v1-train'],
      ['0.75', 'variant_1', 'web_test_eval', 'run-v1-test'],
    ]);
    expect(rows.every((r) => r.flow_name === 'eval_accuracy')).toBe(true);
  });

  it('adds stage, experiment_name and build to the experiment-level files', () => {
    for (const name of ['web_classification_result.csv', 'web_classification_metrics.csv']) {
      const rows = table(files, name);
      expect(rows.length).toBeGreaterThan(0);
      expect(
        rows.every((r) => r.stage === 'dev' && r.experiment_name === 'web_classification' && r.build === '20250210.3'),
      ).toBe(true);
    }
    expect(table(files, 'web_classification_result.csv')).toHaveLength(20);
  });

  it('quotes commas, quotes and newlines so the file parses back to the same text, and writes objects as JSON', () => {
    const results = sampleResults();
    results.lines[0].outputs = { category: 'a, "b"\nc', evidence: { urls: [1, 2] } };
    results.lines[1].outputs = { category: ' "x" \r\ny ', evidence: 'plain, comma' };
    const rows = table(renderCsv(results), 'eval_accuracy_result.csv');
    expect(rows[0]['outputs.category']).toBe('a, "b"\nc');
    expect(JSON.parse(rows[0]['outputs.evidence'])).toEqual({ urls: [1, 2] });
    expect(rows[1]['outputs.category']).toBe(' "x" \r\ny ');
    expect(rows[1]['outputs.evidence']).toBe('plain, comma');
  });

  it('keeps two evaluators apart and names files safely', () => {
    const results = sampleResults();
    results.evaluations.push({
      ...results.evaluations[0],
      runId: 'e2',
      evaluator: 'eval/relevance',
      metrics: { relevance: 4.2 },
    });
    results.lines[0].scores['eval/relevance.score'] = 4;
    const out = renderCsv(results);
    expect(out.map((f) => f.name)).toContain('eval_relevance_result.csv');
    const relevance = table(out, 'eval_relevance_result.csv');
    expect(relevance).toHaveLength(5); // only the run it scored
    expect(Object.keys(relevance[0])).toContain('eval/relevance.score');
    expect(Object.keys(relevance[0])).not.toContain('eval_accuracy.score');
    const all = table(out, 'web_classification_metrics.csv');
    expect(all).toHaveLength(5);
    expect(all[4]).toMatchObject({ relevance: '4.2', accuracy: '', flow_name: 'eval/relevance' });
  });

  it("gives the experiment-level files their own names when an evaluator has the experiment's name (the template's class_flows)", () => {
    const results = sampleResults();
    results.experiment = 'eval_accuracy';
    const out = renderCsv(results);
    expect(out.map((f) => f.name).sort()).toEqual([
      'eval_accuracy_experiment_metrics.csv',
      'eval_accuracy_experiment_result.csv',
      'eval_accuracy_metrics.csv',
      'eval_accuracy_result.csv',
    ]);
    expect(table(out, 'eval_accuracy_experiment_metrics.csv')[0]).toMatchObject({ experiment_name: 'eval_accuracy' });
  });
});

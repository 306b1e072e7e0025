/**
 * Runs over hostile flows (issue 11): `llmops flow run` finishes in bounded time with every line recorded and
 * the run store consistent; a flow whose paths escape is refused before a run folder exists.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFlow } from '../flow/helpers.js';

const CLI = resolve('dist/cli.js');

const flowWith = (template: string, extra: Record<string, string> = {}) =>
  writeFlow({
    't.jinja2': template,
    'flow.dag.yaml':
      'inputs:\n  question:\n    type: string\noutputs:\n  answer:\n    type: string\n    reference: ${p.output}\nnodes:\n- name: p\n  type: prompt\n  source:\n    type: code\n    path: t.jinja2\n  inputs:\n    question: ${inputs.question}\n',
    ...extra,
  });

function flowRun(
  dir: string,
  env: Record<string, string> = {},
): { status: number | null; out: string; ms: number; store: string } {
  const data = join(dir, 'data.jsonl');
  writeFileSync(data, ['a', 'b', 'c'].map((q) => JSON.stringify({ question: q })).join('\n') + '\n');
  const store = join(dir, 'store');
  const started = performance.now();
  const r = spawnSync(
    process.execPath,
    [
      CLI,
      'flow',
      'run',
      dir,
      '--data',
      data,
      '--column-mapping',
      'question=${data.question}',
      '--store',
      store,
      '--name',
      'r1',
    ],
    { cwd: dir, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } },
  );
  return { status: r.status, out: `${r.stdout}\n${r.stderr}`, ms: performance.now() - started, store };
}

interface RunRecord {
  status: string;
  counts: { total: number; completed: number; failed: number };
}

function records(store: string): {
  run: RunRecord;
  lines: Array<{ line_number: number; status: string; error?: { message: string; innerError: unknown } }>;
} {
  const dir = join(store, 'runs', 'r1');
  const run = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as RunRecord;
  const lines = readFileSync(join(dir, 'outputs.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map(
      (l) => JSON.parse(l) as { line_number: number; status: string; error?: { message: string; innerError: unknown } },
    );
  return { run, lines };
}

test.each([
  [
    'nested loops under the range cap',
    '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}{{ question }}',
    {},
    /TemplateBudgetError: the render took more than 5000000 steps/,
  ],
  [
    'output beyond the budget',
    '{{ question * 100000000 }}',
    {},
    /TemplateBudgetError: the render built text longer than 16777216 characters/,
  ],
  ['a huge power', '{{ 2**(2**40) }}', {}, /OverflowError: integer result too large/],
  [
    'a budget lowered by the environment',
    '{% for i in range(1000) %}{% endfor %}{{ question }}',
    { LLMOPS_TEMPLATE_MAX_STEPS: '500' },
    /more than 500 steps/,
  ],
])(
  'flow run over %s: every line fails with the template error, the run completes, the store is consistent',
  (_name, template, env, error) => {
    const r = flowRun(flowWith(template), env);
    expect(r.status).toBe(0);
    expect(r.ms).toBeLessThan(20_000);
    const { run, lines } = records(r.store);
    expect(run.status).toBe('Completed');
    expect(run.counts).toEqual({ total: 3, completed: 0, failed: 3 });
    expect(lines.map((l) => l.line_number).sort()).toEqual([0, 1, 2]);
    for (const line of lines) {
      expect(line.status).toBe('Failed');
      expect(line.error!.message).toMatch(error);
      expect(line.error!.innerError).toEqual({
        code: 'ToolExecutionError',
        innerError: { code: 'JinjaTemplateError', innerError: null },
      });
    }
  },
);

test('a bad budget variable is a config error before anything runs (exit 2, no run folder)', () => {
  const r = flowRun(flowWith('{{ question }}'), { LLMOPS_TEMPLATE_MAX_STEPS: 'many' });
  expect(r.status).toBe(2);
  expect(r.out).toMatch(/LLMOPS_TEMPLATE_MAX_STEPS: error: found "many", expected a positive whole number/);
  expect(existsSync(join(r.store, 'runs', 'r1'))).toBe(false);
});

test('a flow whose template escapes is refused before a run folder exists (exit 2, nothing half-written)', () => {
  const dir = flowWith('{{ question }}');
  writeFileSync(
    join(dir, 'flow.dag.yaml'),
    readFileSync(join(dir, 'flow.dag.yaml'), 'utf8').replace(
      'path: t.jinja2',
      'path: ../../../../../../../../etc/hostname',
    ),
  );
  const r = flowRun(dir);
  expect(r.status).toBe(2);
  expect(r.out).toMatch(
    /flow\.dag\.yaml:13:11: error: node "p" source\.path: found "(\.\.\/)+etc\/hostname", which resolves to \/etc\/hostname, outside the flow folder/,
  );
  expect(existsSync(r.store) ? readdirSync(join(r.store, 'runs')).length : 0).toBe(0);
});

function flowTest(dir: string): { status: number | null; out: string; ms: number } {
  const started = performance.now();
  const r = spawnSync(process.execPath, [CLI, 'flow', 'test', dir, '--inputs', 'question=hi'], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}`, ms: performance.now() - started };
}

test.each([
  [
    'parentheses 20,000 deep',
    `{{ ${'('.repeat(20_000)}1${')'.repeat(20_000)} }}`,
    't.jinja2:1:104: error: invalid Jinja template: expressions nest more than 100 levels deep',
  ],
  [
    'lists 20,000 deep',
    `{{ ${'['.repeat(20_000)}${']'.repeat(20_000)} }}`,
    't.jinja2:1:104: error: invalid Jinja template: expressions nest more than 100 levels deep',
  ],
  [
    '20,000 unary minus signs',
    `{{ ${'-'.repeat(20_000)}1 }}`,
    't.jinja2:1:104: error: invalid Jinja template: expressions nest more than 100 levels deep',
  ],
  [
    '20,000 nots',
    `{{ ${'not '.repeat(20_000)}1 }}`,
    't.jinja2:1:404: error: invalid Jinja template: expressions nest more than 100 levels deep',
  ],
  [
    'if blocks 20,000 deep',
    `${'{% if x %}'.repeat(20_000)}${'{% endif %}'.repeat(20_000)}`,
    't.jinja2:1:1004: error: invalid Jinja template: blocks nest more than 100 levels deep',
  ],
  [
    'a sum of 100,000 terms',
    `{{ ${Array(100_000).fill('1').join('+')} }}`,
    't.jinja2:1:1: error: invalid Jinja template: the template is too deeply nested to compile',
  ],
])(
  'a template with %s is a config error at file:line:col (exit 2), not a crash (was exit 70)',
  (_name, template, message) => {
    const r = flowTest(flowWith(template));
    expect(r.status).toBe(2);
    expect(r.out).toContain(message);
    expect(r.out).toContain('nothing was run');
    expect(r.ms).toBeLessThan(15_000);
  },
);

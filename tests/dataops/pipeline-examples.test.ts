/**
 * The CI examples of examples/pipelines (GitHub workflows and Azure Pipelines, the scheduled data pipelines
 * among them) checked the way actionlint and the Azure Pipelines parser would catch their mistakes: YAML
 * without duplicate keys, the shape of jobs and steps, five-field cron schedules, and every use of one of our
 * steps — `uses: <org>/llmops/actions/<step>@v1` or `task: Llmops<Step>@0` — against the generated action.yml
 * or task.json: inputs it declares, outputs read from a step id that exists and declares them.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any YAML a user writes, walked by shape
type Raw = Record<string, any>;

const read = (file: string): Raw => parse(readFileSync(file, 'utf8'), { uniqueKeys: true, strict: true }) as Raw;
const examples = (dir: string) =>
  readdirSync(path.join('examples/pipelines', dir))
    .filter((f) => f.endsWith('.yml'))
    .map((f) => path.join('examples/pipelines', dir, f));

/** Problems of a five-field cron expression (minute hour day-of-month month day-of-week), as GitHub and ADO read it. */
export function cronProblems(expression: string): string[] {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) return [`"${expression}": ${fields.length} fields, expected 5`];
  const ranges: [string, number, number][] = [
    ['minute', 0, 59],
    ['hour', 0, 23],
    ['day of month', 1, 31],
    ['month', 1, 12],
    ['day of week', 0, 6],
  ];
  const problems: string[] = [];
  fields.forEach((field, i) => {
    const [name, lo, hi] = ranges[i];
    for (const part of field.split(',')) {
      const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
      const numbers = m ? [m[2], m[3]].filter((x) => x !== undefined).map(Number) : [];
      if (!m || numbers.some((n) => n < lo || n > hi) || (m[4] !== undefined && Number(m[4]) < 1))
        problems.push(`"${expression}": ${name} "${part}", expected ${lo}-${hi}, *, a range or a step`);
    }
  });
  return problems;
}

const actionOf = (step: string): Raw => read(path.join('actions', step, 'action.yml'));
const tasks = new Map(
  readdirSync('ado-tasks', { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join('ado-tasks', d.name, 'task.json')))
    .map(({ name: dir }) => {
      const task = JSON.parse(readFileSync(path.join('ado-tasks', dir, 'task.json'), 'utf8')) as Raw;
      return [String(task.name), task];
    }),
);

describe.each(examples('github'))('GitHub workflow %s', (file) => {
  const workflow = read(file);

  test('has triggers and jobs whose steps each use an action or run a script', () => {
    expect(workflow.on).toBeDefined();
    for (const [id, job] of Object.entries<Raw>(workflow.jobs)) {
      expect([id, typeof job['runs-on']]).toEqual([id, 'string']);
      for (const need of [job.needs ?? []].flat()) expect(Object.keys(workflow.jobs)).toContain(need);
      for (const step of job.steps as Raw[]) expect([id, 'uses' in step !== 'run' in step]).toEqual([id, true]);
    }
    for (const s of (workflow.on.schedule ?? []) as Raw[]) expect(cronProblems(s.cron)).toEqual([]);
  });

  test('uses of our actions give only their inputs and read only their outputs', () => {
    for (const job of Object.values<Raw>(workflow.jobs)) {
      const outputsOf = new Map<string, string[]>();
      for (const step of job.steps as Raw[]) {
        const m = /^<org>\/llmops\/actions\/([a-z-]+)@v1$/.exec(String(step.uses ?? ''));
        if (!m) continue;
        const action = actionOf(m[1]);
        for (const input of Object.keys(step.with ?? {}))
          expect([m[1], input, input in action.inputs]).toEqual([m[1], input, true]);
        if (step.id) outputsOf.set(step.id, Object.keys(action.outputs ?? {}));
      }
      const text = JSON.stringify(job);
      for (const [, id, output] of text.matchAll(/steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)/g))
        if (outputsOf.has(id)) expect([id, output, outputsOf.get(id)!.includes(output)]).toEqual([id, output, true]);
      // Every ${{ … }} is closed.
      for (const expr of text.match(/\$\{\{[^}]*\}?\}?/g) ?? []) expect(expr.endsWith('}}')).toBe(true);
    }
  });
});

describe.each(examples('azure-pipelines'))('Azure Pipelines %s', (file) => {
  const pipeline = read(file);
  const jobs: Raw[] = pipeline.stages
    ? (pipeline.stages as Raw[]).flatMap((s) => s.jobs as Raw[])
    : ((pipeline.jobs as Raw[]) ?? [{ steps: pipeline.steps }]);
  const stepsOf = (job: Raw): Raw[] =>
    (job.steps as Raw[] | undefined) ?? (job.strategy?.runOnce?.deploy?.steps as Raw[] | undefined) ?? [];

  test('jobs of steps of one kind each; schedules are five-field crons', () => {
    const kinds = ['task', 'script', 'bash', 'pwsh', 'checkout', 'publish', 'download', 'template'];
    for (const job of jobs) for (const step of stepsOf(job)) expect(kinds.filter((k) => k in step).length).toBe(1);
    for (const s of (pipeline.schedules ?? []) as Raw[]) expect(cronProblems(s.cron)).toEqual([]);
  });

  test('our tasks get only their inputs; their output variables are read from a named step that sets them', () => {
    for (const job of jobs) {
      const variablesOf = new Map<string, string[]>();
      for (const step of stepsOf(job)) {
        const m = /^(Llmops[A-Za-z]+)@0$/.exec(String(step.task ?? ''));
        if (!m) continue;
        const task = tasks.get(m[1]);
        expect([m[1], task !== undefined]).toEqual([m[1], true]);
        const names = (task!.inputs as Raw[]).map((i) => String(i.name));
        for (const input of Object.keys(step.inputs ?? {}))
          expect([m[1], input, names.includes(input)]).toEqual([m[1], input, true]);
        if (step.name)
          variablesOf.set(
            step.name,
            ((task!.outputVariables ?? []) as Raw[]).map((v) => String(v.name)),
          );
      }
      const text = JSON.stringify(stepsOf(job));
      for (const [, name, variable] of text.matchAll(/\$\(([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)\)/g))
        if (variablesOf.has(name))
          expect([name, variable, variablesOf.get(name)!.includes(variable)]).toEqual([name, variable, true]);
    }
  });
});

test('the checks catch the mistakes they are for', () => {
  expect(cronProblems('10 14 * * 1')).toEqual([]);
  expect(cronProblems('*/15 8-18 * 1,6 1-5')).toEqual([]);
  expect(cronProblems('10 14 * *')).toEqual(['"10 14 * *": 4 fields, expected 5']);
  expect(cronProblems('10 24 * * 1')).toEqual(['"10 24 * * 1": hour "24", expected 0-23, *, a range or a step']);
  expect(() => read('examples/pipelines/github/llmops-data.yml')).not.toThrow();
  expect(() => parse('a: 1\na: 2\n', { uniqueKeys: true })).toThrow();
  expect('dry-run' in actionOf('data-pipeline').inputs && 'schedule' in actionOf('data-pipeline').outputs).toBe(true);
});

/**
 * PII seeded in a use case's data is redacted in every file a run writes (the secret-masking test's method: run
 * the lifecycle with the bundled CLI, then read every output file and both output streams) when the experiment
 * asks for it with `redaction: {run_store: true}`, and in every span attribute the runs export with prompt and
 * completion capture on (a loopback OTLP receiver decoding the protobuf payloads); the pii evaluator still sees
 * the leak (the redactor's placeholders count as findings) and its gate fails the run.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp/receiver.js';
import { baseEnv, baseExperiment, makeUseCase } from '../helpers/use-case-dir.js';

const cli = path.resolve('dist/cli.js');

let model: ModelServerHandle;
let receiver: OtlpReceiver;
beforeAll(async () => {
  model = await startModelServer({});
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await receiver.close();
  await model.close();
});

function run(
  args: string[],
  cwd: string,
  extraEnv: Record<string, string> = {},
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd,
      env: {
        PATH: process.env.PATH ?? '',
        LLMOPS_CLI: cli,
        LLMOPS_SUMMARY_FILE: path.join(cwd, 'out/summary.md'),
        ...baseEnv,
        AOAI_API_BASE: model.url,
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'true',
        ...extraEnv,
      },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

const seeded = [
  'jane.roe@contoso.org',
  '4111 1111 1111 1111',
  '123-45-6789',
  'GB82 WEST 1234 5698 7654 32',
  'john.smith@fabrikam.com',
  '020 7946 0958',
];
const questions = [
  'What is the capital of France?',
  `Write to ${seeded[0]} about the order.`,
  `Card ${seeded[1]}, SSN ${seeded[2]}, call ${seeded[5]}.`,
  `Pay into IBAN ${seeded[3]} please.`,
  // Fails in the flow's code with the PII in its error: the failed line's message is logged and reported.
  `Refuse ${seeded[4]}.`,
];

/** The use case: a flow whose Python code prints what it got, then asks the model (which echoes the prompt). */
function useCase(tail: string) {
  const experiment =
    baseExperiment.slice(0, baseExperiment.indexOf('evaluators:')) +
    'evaluators:\n  - name: leak\n    builtin: pii\n    datasets:\n      - name: train\n        mappings:\n          prediction: ${run.outputs.answer}\n' +
    'gates:\n  - metric: pii\n    max: 0\n' +
    'reports:\n  dir: out/reports\n' +
    tail;
  return makeUseCase({
    'flows/std/flow.dag.yaml':
      'inputs:\n  question:\n    type: string\noutputs:\n  answer:\n    type: string\n    reference: ${ask.output}\nnodes:\n- name: echo\n  type: python\n  source:\n    type: code\n    path: echo.py\n  inputs:\n    question: ${inputs.question}\n' +
      '- name: ask\n  type: llm\n  source:\n    type: code\n    path: ask.jinja2\n  inputs:\n    deployment_name: gpt-35-turbo\n    question: ${echo.output}\n  connection: aoai\n  api: chat\n',
    'flows/std/ask.jinja2': '# user:\n{{question}}\n',
    'flows/std/echo.py':
      'from promptflow import tool\n\n\n@tool\ndef echo(question: str) -> str:\n    print(f"got: {question}", flush=True)\n    if question.startswith("Refuse"):\n        raise ValueError(f"cannot answer {question}")\n    return question\n',
    'experiment.yaml': experiment,
    'data/train.jsonl': questions.map((q) => JSON.stringify({ question: q })).join('\n') + '\n',
  });
}

test('seeded PII is in no file the lifecycle writes, nor in its logs or telemetry; the pii gate still fails the run', async () => {
  // No file, log or span may keep what the flow printed, was asked, answered or failed with.
  const uc = useCase('execution:\n  max_failed_lines: 1\nredaction:\n  run_store: true\n');
  try {
    const common = ['--config', 'experiment.yaml', '--store', 'out/.llmops'];
    // The response cache is on: it lives in the store, and keeps the model's answers redacted too.
    const bulk = await run(['bulk-run', ...common], uc.dir);
    expect(bulk.code).toBe(0);
    const evaluate = await run(['evaluate', ...common], uc.dir);
    expect(evaluate.code).toBe(0);
    const report = await run(['report', ...common], uc.dir);
    expect({ code: report.code, out: report.out.slice(-600) }).toEqual({ code: 1, out: expect.stringMatching(/pii/) });

    const written = filesUnder(path.join(uc.dir, 'out'));
    expect(written.map((f) => path.relative(uc.dir, f))).toEqual(
      expect.arrayContaining([
        'out/summary.md',
        'out/reports/results.json',
        'out/reports/report.html',
        expect.stringMatching(/^out\/\.llmops\/runs\/.+\/outputs\.jsonl$/),
        expect.stringMatching(/^out\/\.llmops\/cache\/.+\.json$/),
      ]),
    );
    for (const file of written) {
      const text = readFileSync(file, 'utf8');
      for (const value of seeded)
        expect({ file, leaked: text.includes(value) ? value : undefined }).toEqual({ file, leaked: undefined });
    }
    for (const value of seeded) expect(bulk.out + evaluate.out + report.out).not.toContain(value);
    // Every model call was traced with its prompt and completion, redacted before leaving the process.
    const calls = receiver.spans.filter((s) => s.attributes['gen_ai.operation.name'] === 'chat');
    expect(calls).toHaveLength(4);
    const captured = calls.map(
      (c) => `${c.attributes['gen_ai.input.messages']}${c.attributes['gen_ai.output.messages']}`,
    );
    expect(captured.join('\n')).toMatch(/Write to \[EMAIL_\d+\][^]*Write to \[EMAIL_\d+\]/);
    const exported = JSON.stringify({ spans: receiver.spans, metrics: receiver.metrics });
    for (const value of seeded) expect({ leaked: exported.includes(value) ? value : undefined }).toEqual({});
    // The leak is still measured: 3 of 4 answers held PII before redaction.
    const results = JSON.parse(readFileSync(path.join(uc.dir, 'out/reports/results.json'), 'utf8'));
    expect(results.metrics[0]).toMatchObject({ metric: 'pii', value: 0.75 });
    const runs = readdirSync(path.join(uc.dir, 'out/.llmops/runs'));
    const standard = runs.find((r) => !r.includes('leak'))!;
    const records = readFileSync(path.join(uc.dir, 'out/.llmops/runs', standard, 'outputs.jsonl'), 'utf8');
    expect(records).toMatch(/\[EMAIL_\d+\]/);
  } finally {
    uc.cleanup();
  }
});

test('the log lines a step writes are redacted by the host: failed lines quoted from a run store that keeps PII', async () => {
  // The store keeps the data as it is (no run_store): the failed lines over the tolerance are quoted from it in
  // error annotations and in the step's failure, and the host redacts them on the way out.
  const uc = useCase('redaction:\n  kinds: [email]\n');
  try {
    const bulk = await run(['bulk-run', '--config', 'experiment.yaml', '--store', 'out/.llmops'], uc.dir);
    expect(bulk.code).toBe(1);
    expect(bulk.out).toMatch(/line 4 of train failed: .*cannot answer Refuse \[EMAIL_\d+\]/);
    expect(bulk.out).not.toContain(seeded[4]);
    // Only the configured kinds: the card number is left as it is (it is not an email).
    const records = readFileSync(
      filesUnder(path.join(uc.dir, 'out/.llmops/runs')).find((f) => f.endsWith('outputs.jsonl'))!,
      'utf8',
    );
    expect(records).toContain(seeded[4]);
  } finally {
    uc.cleanup();
  }
});

test('without a use case, LLMOPS_REDACT_PII redacts what flow run sends to telemetry and logs', async () => {
  const uc = useCase('');
  try {
    writeFileSync(
      path.join(uc.dir, 'conn.yaml'),
      `name: aoai\ntype: azure_open_ai\napi_base: ${model.url}\napi_key: local-key\n`,
    );
    const before = receiver.spans.length;
    const args = ['flow', 'run', 'flows/std', '--data', 'data/train.jsonl', '--connections', 'conn.yaml'];
    const bad = await run([...args, '--store', 'out/bad'], uc.dir, { LLMOPS_REDACT_PII: 'emails' });
    expect({ code: bad.code, out: bad.out }).toEqual({
      code: 2,
      out: expect.stringMatching(/LLMOPS_REDACT_PII.*"emails"/),
    });
    const flow = await run([...args, '--store', 'out/.llmops'], uc.dir, { LLMOPS_REDACT_PII: 'email,iban' });
    expect(flow.code).toBe(0);
    const calls = receiver.spans.slice(before).filter((s) => s.attributes['gen_ai.operation.name'] === 'chat');
    expect(calls).toHaveLength(4);
    const captured = JSON.stringify(calls.map((c) => c.attributes));
    expect(captured).toMatch(/Write to \[EMAIL_\d+\]/);
    expect(captured).toMatch(/IBAN \[IBAN_\d+\]/);
    for (const value of [seeded[0], seeded[3], seeded[4]]) {
      expect(captured).not.toContain(value);
      expect(flow.out).not.toContain(value);
    }
    // Only the kinds named: the card number is not an email or an IBAN.
    expect(captured).toContain(seeded[1]);
  } finally {
    uc.cleanup();
  }
});

test("flow serve with a use case: its redaction block covers the served calls' telemetry and the request log", async () => {
  const uc = useCase('redaction:\n  kinds: [email]\n');
  const child = spawn(
    process.execPath,
    [cli, 'flow', 'serve', '--config', 'experiment.yaml', '--port', '0', '--request-log', 'out/requests.jsonl'],
    {
      cwd: uc.dir,
      env: {
        PATH: process.env.PATH ?? '',
        ...baseEnv,
        AOAI_API_BASE: model.url,
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'true',
      },
    },
  );
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout.resume();
  const closed = new Promise((resolve) => child.on('close', resolve));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`flow serve did not start: ${err}`)), 20_000);
      child.stderr.on('data', () => {
        const m = /"msg":"listening","url":"([^"]+)"/.exec(err);
        if (!m) return;
        clearTimeout(timer);
        resolve(m[1]);
      });
    });
    const before = receiver.spans.length;
    const r = await fetch(`${url}/score`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ question: questions[1] }),
    });
    expect(r.status).toBe(200);
    await r.text();
    child.kill('SIGTERM');
    await closed;
    const calls = receiver.spans.slice(before).filter((s) => s.attributes['gen_ai.operation.name'] === 'chat');
    expect(calls).toHaveLength(1);
    expect(String(calls[0].attributes['gen_ai.input.messages'])).toMatch(/Write to \[EMAIL_\d+\]/);
    expect(JSON.stringify(receiver.spans.slice(before))).not.toContain(seeded[0]);
    const log = readFileSync(path.join(uc.dir, 'out/requests.jsonl'), 'utf8');
    expect(log).toMatch(/Write to \[EMAIL_\d+\]/);
    expect(log + err).not.toContain(seeded[0]);
  } finally {
    child.kill('SIGKILL');
    uc.cleanup();
  }
});

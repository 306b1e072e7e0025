/**
 * The real processes under hostile work (issue 11): `llmops flow serve` with a freezing template keeps answering
 * /health, answers 504 at its timeout and exits on SIGTERM; `llmops model-server` stays responsive under huge
 * prompts and exits on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { writeFlow } from '../flow/helpers.js';

const CLI = resolve('dist/cli.js');
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Starts the CLI and resolves once `ready` finds its URL in its output. */
function startCli(
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready after 20 s:\n${output}`)), 20_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      const m = ready.exec(output);
      if (m) {
        clearTimeout(timer);
        resolvePromise({ child, url: m[1], output: () => output });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`exited with ${code} before it was ready:\n${output}`)));
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; ms: number }> {
  const started = performance.now();
  return new Promise((resolvePromise) => {
    if (child.exitCode !== null) return resolvePromise({ code: child.exitCode, ms: 0 });
    child.once('exit', (code) => resolvePromise({ code, ms: performance.now() - started }));
  });
}

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work;
  return { value, ms: performance.now() - started };
}

const FREEZING = '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}{{ question }}';
const freezingFlow = () =>
  writeFlow({
    'p.jinja2': FREEZING,
    'flow.dag.yaml':
      'inputs:\n  question:\n    type: string\noutputs:\n  answer:\n    type: string\n    reference: ${p.output}\nnodes:\n- name: p\n  type: prompt\n  source:\n    type: code\n    path: p.jinja2\n  inputs:\n    question: ${inputs.question}\n',
  });

const score = (url: string) =>
  fetch(`${url}/score`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"question": "hi"}',
  });

describe('flow serve under a freezing template', () => {
  test('with the step budget raised, only the timeout stops it: /health answers meanwhile, the request gets 504, SIGTERM ends the process', async () => {
    const { child, url } = await startCli(
      ['flow', 'serve', freezingFlow(), '--port', '0', '--timeout', '2'],
      { LLMOPS_TEMPLATE_MAX_STEPS: '1000000000000' },
      /"msg":"listening","url":"([^"]+)"/,
    );
    const request = timed(score(url));
    await new Promise((r) => setTimeout(r, 300));
    const health = await timed(fetch(`${url}/health`));
    expect(health.value.status).toBe(200);
    // The render holds the loop at most until the line timeout (2 s); the margin is for a loaded CI machine.
    expect(health.ms).toBeLessThan(4_500);
    const answered = await request;
    expect(answered.value.status).toBe(504);
    expect(await answered.value.json()).toEqual({
      error: {
        code: 'UserError',
        message:
          'Failed to render jinja template: TimeoutError: the render ran longer than 2 seconds (the line timeout) and was stopped. Please modify your prompt to fix the issue.',
      },
    });
    expect(answered.ms).toBeGreaterThan(1_900);
    expect(answered.ms).toBeLessThan(6_000);

    // SIGTERM while another freezing request runs: it is answered (504), then the process exits.
    const inFlight = score(url);
    await new Promise((r) => setTimeout(r, 300));
    const exit = exited(child);
    child.kill('SIGTERM');
    expect((await inFlight).status).toBe(504);
    const { code, ms } = await exit;
    expect(code).toBe(0);
    expect(ms).toBeLessThan(8_000);
  });

  test('with the default budgets the render stops in well under a second: 400 with the budget error', async () => {
    const { child, url } = await startCli(
      ['flow', 'serve', freezingFlow(), '--port', '0', '--timeout', '30'],
      {},
      /"msg":"listening","url":"([^"]+)"/,
    );
    const answered = await timed(score(url));
    expect(answered.value.status).toBe(400);
    expect(((await answered.value.json()) as { error: { message: string } }).error.message).toMatch(
      /^Failed to render jinja template: TemplateBudgetError: the render took more than 5000000 steps/,
    );
    expect(answered.ms).toBeLessThan(3_000);
    expect((await fetch(`${url}/health`)).status).toBe(200);
    // Eight at once: each render is bounded, so /health waits at most for the ones ahead of it.
    const burst = Promise.all(Array.from({ length: 8 }, () => score(url)));
    await new Promise((r) => setTimeout(r, 50));
    const health = await timed(fetch(`${url}/health`));
    expect(health.value.status).toBe(200);
    expect(health.ms).toBeLessThan(8_000);
    expect((await burst).map((r) => r.status)).toEqual(Array(8).fill(400));
    const exit = exited(child);
    child.kill('SIGTERM');
    expect((await exit).code).toBe(0);
  });
});

describe('model-server under huge prompts', () => {
  const headers = { authorization: 'Bearer k', 'content-type': 'application/json' };
  const chat = (content: string) =>
    JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content }], max_tokens: 16 });

  test('two 8 MB prompts are refused at once (413); two 3.9 MB one-word prompts are answered; it keeps answering and exits on SIGTERM', async () => {
    const { child, url } = await startCli(['model-server', '--port', '0'], {}, /(http:\/\/127\.0\.0\.1:\d+)/);
    const eight = chat('x'.repeat(8 * 1024 * 1024));
    const refused = await timed(
      Promise.all([0, 1].map(() => fetch(`${url}/v1/chat/completions`, { method: 'POST', headers, body: eight }))),
    );
    expect(refused.value.map((r) => r.status)).toEqual([413, 413]);
    expect(refused.ms).toBeLessThan(5_000);

    const big = chat('z'.repeat(3_900_000));
    const answered = await timed(
      Promise.all([0, 1].map(() => fetch(`${url}/v1/chat/completions`, { method: 'POST', headers, body: big }))),
    );
    expect(answered.value.map((r) => r.status)).toEqual([200, 200]);
    const body = (await answered.value[0].json()) as {
      usage: { prompt_tokens: number };
      choices: Array<{ finish_reason: string }>;
    };
    expect(body.usage.prompt_tokens).toBeGreaterThan(400_000);
    expect(body.choices[0].finish_reason).toBe('length');
    expect(answered.ms).toBeLessThan(15_000);
    expect((await fetch(`${url}/v1/models`, { headers })).status).toBe(200);

    // No max_tokens and n = 128: the answer stops at the model's output limit instead of echoing 4 MB 128 times.
    const many = await timed(
      fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ model: 'gpt-4o', n: 128, messages: [{ role: 'user', content: 'z'.repeat(3_900_000) }] }),
      }),
    );
    expect(many.value.status).toBe(200);
    const manyBody = (await many.value.json()) as {
      usage: { completion_tokens: number };
      choices: Array<{ finish_reason: string }>;
    };
    expect(manyBody.choices).toHaveLength(128);
    expect(manyBody.choices[0].finish_reason).toBe('length');
    expect(manyBody.usage.completion_tokens).toBe(128 * 16_384);
    expect(many.ms).toBeLessThan(15_000);

    // SIGTERM with two huge prompts in flight: the process is gone within seconds.
    const inFlight = [0, 1].map(() =>
      fetch(`${url}/v1/chat/completions`, { method: 'POST', headers, body: big }).catch(() => undefined),
    );
    await new Promise((r) => setTimeout(r, 200));
    const exit = exited(child);
    child.kill('SIGTERM');
    const { ms } = await exit;
    expect(ms).toBeLessThan(8_000);
    await Promise.all(inFlight);
  });
});

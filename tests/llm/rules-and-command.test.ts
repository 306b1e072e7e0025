import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { ConfigError, exitCodeOf } from '../../src/shared/errors.js';
import { modelServerAction, registerModelServerCommand } from '../../src/commands/model-server.js';
import { estimateCost, mergePrices, priceOf } from '../../src/shared/llm/pricing.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'llmops-rules-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const io = () => {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    io: { stdout: { write: (t: string) => (out.stdout += t) }, stderr: { write: (t: string) => (out.stderr += t) } },
  };
};

test('model-server action: prints the URL on stdout, serves the rules file, logs on stderr', async () => {
  const rules = join(dir, 'rules.yaml');
  writeFileSync(rules, 'rules:\n  - match: "ping"\n    answer: "pong"\n');
  const { out, io: cio } = io();
  const server = await modelServerAction({ rules, rpm: '100' }, cio);
  try {
    expect(out.stdout).toBe(`${server.url}\n`);
    expect(out.stderr).toContain('rpm 100');
    const res = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'ping' }] }),
    });
    expect(((await res.json()) as { choices: { message: { content: string } }[] }).choices[0].message.content).toBe(
      'pong',
    );
  } finally {
    await server.close();
  }
});

test('a bad rules file is a ConfigError (exit 2) naming file:line:column and what is wrong', async () => {
  const rules = join(dir, 'bad.yaml');
  writeFileSync(
    rules,
    [
      'rules:',
      '  - match: "ok"',
      '    answer: "fine"',
      '  - match: "(unclosed"',
      '    answer: "x"',
      '  - match: "a(b)"',
      '    answr: "typo"',
      '  - match: "c"',
      '    answer: "{{2}}"',
      '',
    ].join('\n'),
  );
  const err = (await modelServerAction({ rules }, io().io).catch((e: unknown) => e)) as ConfigError;
  expect(err).toBeInstanceOf(ConfigError);
  expect(exitCodeOf(err)).toBe(2);
  const messages = err.problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}`);
  expect(messages).toEqual([
    expect.stringMatching(new RegExp(`bad\\.yaml:4:12: invalid regular expression`)),
    expect.stringMatching(/bad\.yaml:7:5: unknown key "answr"/),
    expect.stringMatching(/bad\.yaml:6:5: the rule has no answer/),
    expect.stringMatching(/bad\.yaml:9:13: placeholder \{\{2\}\} does not name a group/),
  ]);
});

test('invalid YAML in the rules file points at the broken spot', async () => {
  const rules = join(dir, 'broken.yaml');
  writeFileSync(rules, 'rules:\n  - match: "x"\n    answer: [unclosed\n');
  const err = (await modelServerAction({ rules }, io().io).catch((e: unknown) => e)) as ConfigError;
  expect(err).toBeInstanceOf(ConfigError);
  expect(err.problems[0]).toMatchObject({ file: rules, line: expect.any(Number) });
  expect(err.message).toMatch(/invalid YAML/);
});

test('bad flag values are ConfigErrors naming the flag', async () => {
  await expect(modelServerAction({ port: 'eighty' }, io().io)).rejects.toThrow(
    '--port: expected an integer from 0 to 65535, found "eighty"',
  );
  await expect(modelServerAction({ faultRate: '2' }, io().io)).rejects.toThrow(
    /--fault-rate: expected a number from 0 to 1/,
  );
});

test('the command is registered with its options and examples in --help', () => {
  const program = new Command('llmops');
  registerModelServerCommand(program);
  const cmd = program.commands.find((c) => c.name() === 'model-server')!;
  let help = '';
  cmd.configureOutput({ writeOut: (s) => (help += s) });
  cmd.outputHelp();
  for (const flag of [
    '--port',
    '--host',
    '--latency-ms',
    '--jitter-ms',
    '--rpm',
    '--tpm',
    '--fault-rate',
    '--rules',
    '--seed',
  ])
    expect(help).toContain(flag);
  expect(help).toContain('Examples:');
});

test('prices: known models (with date suffix and Azure names), user overrides, unknown → undefined', () => {
  expect(estimateCost('gpt-4o', { promptTokens: 1_000_000, completionTokens: 1_000_000 })).toBeCloseTo(12.5);
  expect(estimateCost('gpt-4o-2024-08-06', { promptTokens: 1000, completionTokens: 0 })).toBeCloseTo(0.0025);
  expect(priceOf('gpt-35-turbo')).toEqual(priceOf('gpt-3.5-turbo'));
  const table = mergePrices({ 'my-finetune': { input: 1, output: 2 }, 'GPT-4o': { input: 5, output: 15 } });
  expect(estimateCost('my-finetune', { promptTokens: 1_000_000, completionTokens: 500_000 }, table)).toBeCloseTo(2);
  expect(estimateCost('gpt-4o', { promptTokens: 1_000_000, completionTokens: 0 }, table)).toBeCloseTo(5);
  expect(estimateCost('llmops-local-model/gpt-4o', { promptTokens: 10, completionTokens: 10 })).toBeUndefined();
  expect(estimateCost('mystery-model', { promptTokens: 10, completionTokens: 10 })).toBeUndefined();
});

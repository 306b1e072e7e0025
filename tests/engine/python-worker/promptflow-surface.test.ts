/**
 * The stand-in `promptflow` package covers what Prompt Flow projects import: every name of
 * tests/fixtures/promptflow-imports.txt (made by scripts/scan-promptflow-imports.py over Prompt Flow's test flows,
 * its examples and the LLMOps template) imports with real python3, and the names that are behaviour behave.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { delimiter, resolve } from 'node:path';
import type { Connection } from '../../../src/shared/config/connections.js';
import { loadFlow } from '../../../src/shared/flow/index.js';
import { createExecutor } from '../../../src/shared/engine/index.js';
import { countChatTokens, loadTokenizers } from '../../../src/shared/llm/index.js';

const LIST = resolve('tests/fixtures/promptflow-imports.txt');
const PY = resolve('src/shared/engine/python');
const FIX = resolve('tests/engine/python-worker/fixtures');

interface SurfaceReport {
  listed: number;
  missing: string[];
  checks: Record<string, unknown>;
}

function surface(): SurfaceReport {
  // The worker's own sys.path arrangement: its directory, then the shim (no real promptflow installed here).
  const env = { ...process.env, PYTHONPATH: [`${PY}/shim`, PY].join(delimiter), PYTHONDONTWRITEBYTECODE: '1' };
  const out = execFileSync(process.env.LLMOPS_PYTHON ?? 'python3', [`${FIX}/surface/check_surface.py`, LIST], {
    env,
    encoding: 'utf8',
  });
  return JSON.parse(out) as SurfaceReport;
}

let report: SurfaceReport;
beforeAll(() => {
  report = surface();
});

test('every listed name imports through the stand-in package', () => {
  const listed = readFileSync(LIST, 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'));
  expect(listed).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^promptflow\.connections:CustomStrongTypeConnection\t/),
      expect.stringMatching(/^promptflow\._core\.tool:InputSetting\t/),
      expect.stringMatching(/^promptflow\.contracts\.types:AssistantDefinition\t/),
    ]),
  );
  expect(report.listed).toBe(listed.length);
  expect(report.missing).toEqual([]);
  expect(report.checks.shim).toBe(true);
});

test('decorators keep the function; input settings and unknown keys are kept on it', () => {
  expect(report.checks['tool decorators keep the function and mark it']).toEqual({
    same_function: [true, true, true],
    call: 6,
    marked: true,
    enabled_by: 'mode',
    extra: { unknown_key: 'kept' },
  });
  expect(report.checks['trace keeps sync, async and class targets']).toEqual([2, 3, 'C']);
  expect(report.checks["ThreadPoolExecutorWithContext runs tasks in the submitter's context"]).toBe('line-7');
  expect(report.checks.OperationContext).toEqual({ same: true, flow_id: 'f1', in: true, ua: 'my-agent/1.0' });
  expect(report.checks['langchain callback handler accepts callbacks']).toEqual([null, null]);
  expect(report.checks.exceptions).toEqual(['sys', true]);
});

test('connections: one class whichever module it is imported from; custom strong types read configs and secrets', () => {
  expect(report.checks['connections from every module that exports them are one class']).toEqual([
    true,
    'https://x',
    '2024-02-01',
  ]);
  expect(report.checks.CustomStrongTypeConnection).toEqual({
    direct: ['k1', 'https://default'],
    converted: 'MyConnection',
    values: ['k2', 'https://changed', 'c'],
    configs: { api_url: 'https://changed' },
    secret: true,
    secret_is_str: true,
  });
});

test('AssistantDefinition: tools described as OpenAI functions from the docstring, callable with predefined inputs bound', () => {
  expect(report.checks['AssistantDefinition and its tool invoker']).toEqual({
    serialized: 'm',
    tools: [
      { type: 'code_interpreter' },
      {
        type: 'function',
        function: {
          name: 'echo',
          description: 'Echo the message back.\n',
          parameters: {
            type: 'object',
            properties: {
              message: { description: 'The message to echo.', type: 'string' },
              times: { description: 'How many times.', type: 'number' },
            },
            required: ['message'],
          },
        },
      },
    ],
    call: 'hi hi via aoai',
  });
});

test('Prompty.estimate_token_count from flow code counts with the real tokenizer (loaded on first use)', async () => {
  const aoai: Connection = {
    name: 'aoai',
    type: 'AzureOpenAIConnection',
    value: { api_key: 'k', api_base: 'http://127.0.0.1:9' },
    secretKeys: ['api_key'],
  };
  const ex = await createExecutor(loadFlow(`${FIX}/token_count`), { connections: [aoai] });
  let tokens: unknown;
  try {
    const r = await ex.runLine({ question: 'How many tokens is this question?' });
    expect(r.error).toBeUndefined();
    tokens = r.outputs!.tokens;
  } finally {
    await ex.close();
  }
  await loadTokenizers();
  const messages = [
    { role: 'system', content: 'You answer in one short sentence.' },
    { role: 'user', content: 'How many tokens is this question?' },
  ];
  expect(tokens).toBe(countChatTokens(messages, 'gpt-4o') + 100);
});

/** The step's price table: defaults, a user file merged over them, and a clear error for a bad file. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, formatProblem } from '../../src/shared/errors.js';
import { estimateCost } from '../../src/shared/llm/index.js';
import { loadPrices } from '../../src/shared/steps/llm-service.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-prices-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const usage = { promptTokens: 1_000_000, completionTokens: 500_000, totalTokens: 1_500_000 };

test('a user price file adds models and overrides defaults', () => {
  const file = path.join(dir, 'prices.yaml');
  writeFileSync(file, 'my-finetune:\n  input: 2\n  output: 8\n');
  const table = loadPrices(file);
  expect(estimateCost('my-finetune', usage, table)).toBeCloseTo(2 + 4, 10);
  expect(estimateCost('gpt-4o', usage, table)).toBe(estimateCost('gpt-4o', usage, loadPrices(undefined)));
});

test('a price without numbers is an input error naming the model', () => {
  const file = path.join(dir, 'bad.yaml');
  writeFileSync(file, 'my-model:\n  input: cheap\n');
  const error = (() => {
    try {
      loadPrices(file);
    } catch (e) {
      return e;
    }
  })() as ConfigError;
  expect(error).toBeInstanceOf(ConfigError);
  expect(formatProblem(error.problems[0])).toContain('not a price: my-model');
});

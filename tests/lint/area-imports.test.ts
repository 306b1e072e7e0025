/**
 * The area import rules of eslint.config.js fire on a violation and stay quiet on an allowed
 * import: each fixture is linted by the real ESLint with the project's config, as if it were a
 * file of the area it names.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ESLint } from 'eslint';

const root = path.resolve('.');
const fixture = (name: string) => readFileSync(path.join(root, 'tests/lint/fixtures', name), 'utf8');

async function restrictedImports(fixtureName: string, asFile: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: root });
  const [result] = await eslint.lintText(fixture(fixtureName), { filePath: path.join(root, asFile) });
  expect(result!.fatalErrorCount).toBe(0);
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

test.each([
  [
    'engine-imports-runs.fixture',
    'src/shared/engine/lint-fixture.ts',
    /'\.\.\/runs\/index\.js'.*The engine runs one line of a flow: it imports neither runs, nor eval, nor steps/,
  ],
  [
    'engine-imports-eval.fixture',
    'src/shared/engine/python-worker/lint-fixture.ts',
    /'\.\.\/\.\.\/eval\/results\.js'.*The engine/,
  ],
  ['engine-imports-steps.fixture', 'src/shared/engine/lint-fixture.ts', /'\.\.\/steps\/bulk-run\.js'.*The engine/],
  [
    'report-imports-eval.fixture',
    'src/shared/report/lint-fixture.ts',
    /'\.\.\/eval\/analysis\.js'.*report imports only the results model/,
  ],
  [
    'eval-imports-steps.fixture',
    'src/shared/eval/stats/lint-fixture.ts',
    /'\.\.\/\.\.\/steps\/experiment-files\.js'.*eval never imports steps/,
  ],
  [
    'core-imports-model-server.fixture',
    'src/shared/llm/lint-fixture.ts',
    /'\.\.\/\.\.\/model-server\/index\.js'.*never imports the model server/,
  ],
  [
    'core-imports-commands.fixture',
    'src/shared/deploy/lint-fixture.ts',
    /'\.\.\/\.\.\/commands\/serve\.js'.*never imports the model server, the CLI commands/,
  ],
])('%s fails lint as %s', async (name, asFile, message) => {
  const messages = await restrictedImports(name, asFile);
  expect(messages).toHaveLength(1);
  expect(messages[0]).toMatch(message);
});

test.each([
  ['report-imports-results.fixture', 'src/shared/report/lint-fixture.ts'],
  ['engine-imports-flow.fixture', 'src/shared/engine/lint-fixture.ts'],
  ['eval-imports-runs.fixture', 'src/shared/eval/lint-fixture.ts'],
])('%s passes lint as %s', async (name, asFile) => {
  expect(await restrictedImports(name, asFile)).toEqual([]);
});

test('the same engine violation is allowed where the rule does not apply (steps may import runs)', async () => {
  expect(await restrictedImports('engine-imports-runs.fixture', 'src/shared/steps/lint-fixture.ts')).toEqual([]);
});

/**
 * The packed CLI a serving image runs: found in an installation (dist/serve-cli.js) or beside a packaged
 * bundle (serve-cli.js), copied into the build context with every chunk it loads, and it starts from there
 * alone (no node_modules, no repository around it).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeBuildContext } from '../../src/shared/serve/build-context.js';
import { packedCliEntry, packedCliFiles } from '../../src/shared/serve/packed-cli.js';
import { ConfigError } from '../../src/shared/errors.js';

const root = process.cwd();
const flow = 'examples/web_classification/flows/experiment';
let tmp: string;

beforeEach(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'llmops-packed-cli-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

test('an installation serves with dist/serve-cli.js and the chunks it loads, statically and on demand', () => {
  const entry = packedCliEntry(root);
  expect(path.relative(root, entry)).toBe(path.join('dist', 'serve-cli.js'));
  const files = packedCliFiles(entry);
  expect(files[0]).toBe('serve-cli.js');
  expect(files.length).toBeGreaterThan(3);
  expect(files.every((f) => f === 'serve-cli.js' || f.startsWith('chunks/'))).toBe(true);
  expect(files.some((f) => f.endsWith('.map'))).toBe(false);
});

test('the build context carries a CLI that starts on its own, copied out of the repository', () => {
  const ctx = writeBuildContext({ flow, output: path.join(tmp, 'ctx') });
  // As in the image: only app/ and flow/, elsewhere, with no node_modules above them.
  const image = path.join(tmp, 'image');
  cpSync(path.join(ctx.dir, 'app'), path.join(image, 'app'), { recursive: true });
  const help = execFileSync(process.execPath, [path.join(image, 'app/dist/cli.js'), 'flow', 'serve', '--help'], {
    encoding: 'utf8',
    cwd: image,
  });
  expect(help).toContain('Usage: llmops flow serve');
});

test('a packaged bundle folder (serve-cli.js beside it) is a package root', () => {
  const bundle = path.join(tmp, 'bundle');
  mkdirSync(path.join(bundle, 'chunks'), { recursive: true });
  writeFileSync(path.join(bundle, 'serve-cli.js'), 'import { a } from "./chunks/a.js";\nconsole.log(a);\n');
  writeFileSync(path.join(bundle, 'chunks/a.js'), 'export const a = await import("./b.js").then((m) => m.b);\n');
  writeFileSync(path.join(bundle, 'chunks/b.js'), 'export const b = "served";\n');
  writeFileSync(path.join(bundle, 'package.json'), '{ "type": "module" }\n');
  expect(packedCliFiles(packedCliEntry(bundle)).sort()).toEqual(['chunks/a.js', 'chunks/b.js', 'serve-cli.js']);
  const ctx = writeBuildContext({ flow, output: path.join(tmp, 'ctx'), packageRoot: bundle });
  expect(execFileSync(process.execPath, [path.join(ctx.dir, 'app/dist/cli.js')], { encoding: 'utf8' })).toBe(
    'served\n',
  );
});

test('a bundle missing a chunk, or no CLI at all, is a clear error before anything is written', () => {
  const bundle = path.join(tmp, 'bundle');
  mkdirSync(bundle);
  expect(() => packedCliEntry(bundle)).toThrow(ConfigError);
  expect(() => packedCliEntry(bundle)).toThrow(/packed CLI is missing/);
  writeFileSync(path.join(bundle, 'serve-cli.js'), 'import "./chunks/gone.js";\n');
  expect(() => packedCliFiles(path.join(bundle, 'serve-cli.js'))).toThrow(/imports \.\/chunks\/gone\.js/);
});

test("a dependency's JSDoc type references are not imports: only code lines are followed", () => {
  const bundle = path.join(tmp, 'bundle');
  mkdirSync(path.join(bundle, 'chunks'), { recursive: true });
  writeFileSync(path.join(bundle, 'serve-cli.js'), 'import("./chunks/pool.js");\n');
  writeFileSync(
    path.join(bundle, 'chunks/pool.js'),
    [
      'var Pool = class {',
      '  /**',
      "   * @param {import('../../types/client.js').Client.Options} options",
      '   */',
      '  constructor(options) {}',
      '};',
      'export { Pool };',
      '',
    ].join('\n'),
  );
  expect(packedCliFiles(path.join(bundle, 'serve-cli.js'))).toEqual(['serve-cli.js', 'chunks/pool.js']);
});

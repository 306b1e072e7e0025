/** Property: whatever YAML the user writes, the loader throws our typed ConfigError or succeeds — nothing else. */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { ConfigError } from '../../src/shared/errors.js';
import { loadUseCase } from '../../src/shared/config/use-case.js';
import { baseEnv, baseExperiment, makeUseCase } from '../helpers/use-case-dir.js';

const uc = makeUseCase({});
afterAll(() => uc.cleanup());

function loadsOrConfigError(experiment: string, overlay?: string): boolean {
  writeFileSync(path.join(uc.dir, 'experiment.yaml'), experiment);
  const overlayFile = path.join(uc.dir, 'experiment.prop.yaml');
  if (overlay === undefined) rmSync(overlayFile, { force: true });
  else writeFileSync(overlayFile, overlay);
  try {
    loadUseCase({ configPath: 'experiment.yaml', env: 'prop', cwd: uc.dir, processEnv: baseEnv });
    return true;
  } catch (e) {
    if (e instanceof ConfigError)
      return e.problems.length > 0 && e.problems.every((p) => typeof p.message === 'string' && p.message.length > 0);
    throw e;
  }
}

/** The base file with random lines dropped, duplicated or cut: near-valid input finds the interesting paths. */
const mutatedBase = fc
  .array(fc.tuple(fc.nat(40), fc.constantFrom('drop', 'dup', 'cut', 'indent', 'junk')), { maxLength: 4 })
  .map((edits) => {
    const lines = baseExperiment.split('\n');
    for (const [at, kind] of edits) {
      const i = at % lines.length;
      if (kind === 'drop') lines.splice(i, 1);
      else if (kind === 'dup') lines.splice(i, 0, lines[i]);
      else if (kind === 'cut') lines[i] = lines[i].slice(0, Math.floor(lines[i].length / 2));
      else if (kind === 'indent') lines[i] = ' ' + lines[i];
      else lines[i] = lines[i] + ' : [ {';
    }
    return lines.join('\n');
  });

const yamlKeys = fc.constantFrom(
  'name',
  'flow',
  'datasets',
  'evaluators',
  'connections',
  'runtime',
  'execution',
  'variants',
  'gates',
  'mappings',
  'source',
  'x',
);
const structured = fc
  .dictionary(yamlKeys, fc.anything({ maxDepth: 3, key: yamlKeys, withNullPrototype: false }), { maxKeys: 6 })
  .map((v) => stringify(v));

test('arbitrary text', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => loadsOrConfigError(text)),
    { numRuns: 300 },
  );
});

test('arbitrary YAML documents, as base and as overlay', () => {
  fc.assert(
    fc.property(structured, fc.option(structured), (base, overlay) => loadsOrConfigError(base, overlay ?? undefined)),
    { numRuns: 300 },
  );
});

test('the valid base file mutated line by line', () => {
  fc.assert(
    fc.property(mutatedBase, fc.option(mutatedBase), (base, overlay) => loadsOrConfigError(base, overlay ?? undefined)),
    { numRuns: 300 },
  );
});

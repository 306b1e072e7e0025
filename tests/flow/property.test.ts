import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { ConfigError } from '../../src/shared/errors.js';
import { loadFlow, parseReference } from '../../src/shared/flow/index.js';
import { writeFlow } from './helpers.js';

const dir = writeFlow({ 'a.py': '', 't.jinja2': '' });
const file = join(dir, 'flow.dag.yaml');

/** loadFlow either returns a flow or throws ConfigError — never a TypeError or anything else. */
function loadsOrConfigError(text: string): boolean {
  writeFileSync(file, text);
  try {
    loadFlow(file);
    return true;
  } catch (e) {
    if (e instanceof ConfigError && e.problems.length > 0 && e.problems.every((p) => p.file && p.message)) return true;
    throw e;
  }
}

// Values shaped like flows (keys users write, references, wrong types) reach deeper code than random text.
const key = fc.constantFrom(
  'inputs',
  'outputs',
  'nodes',
  'node_variants',
  'name',
  'type',
  'source',
  'path',
  'reference',
  'activate',
  'when',
  'is',
  'aggregation',
  'use_variants',
  'default_variant_id',
  'variants',
  'node',
  'additional_includes',
  'environment_variables',
  'entry',
  'x',
);
const scalar = fc.oneof(
  fc.constantFrom(
    '${inputs.q}',
    '${a.output}',
    '${a}',
    '${a.output.b[0]}',
    '${b.outputs}',
    '${}',
    '$',
    'llm',
    'python',
    'code',
    'a.py',
    't.jinja2',
    'a',
    'q',
    '',
  ),
  fc.string(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
);
const value = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    scalar,
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(key, tie('v'), { maxKeys: 5 }),
  ),
})).v;

test('loadFlow on arbitrary YAML text never throws anything but ConfigError', () => {
  fc.assert(fc.property(fc.string({ maxLength: 200 }), loadsOrConfigError), { numRuns: 300 });
});

test('loadFlow on arbitrary flow-shaped YAML never throws anything but ConfigError', () => {
  fc.assert(
    fc.property(fc.dictionary(key, value, { maxKeys: 6 }), (doc) => loadsOrConfigError(stringify(doc))),
    { numRuns: 500 },
  );
});

test('parseReference: only ${...} strings longer than 2 characters are references', () => {
  fc.assert(
    fc.property(fc.string(), (s) => {
      const ref = parseReference(s);
      return ref === undefined || (s.startsWith('${') && s.endsWith('}') && s.length > 2);
    }),
  );
});

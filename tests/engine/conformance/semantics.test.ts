/**
 * Smaller Prompt Flow semantics: empty (null) inputs/outputs sections, environment_variables written as
 * Python's json.dumps writes them, and whole-number floats that stay floats (a double input "2" is 2.0 in
 * Python and in templates, a YAML literal 1.0 renders 1.0, a Python 2.0 comes back as 2.0).
 */
import { loadFlow } from '../../../src/shared/flow/index.js';
import { createExecutor } from '../../../src/shared/engine/index.js';
import { FIX } from './helpers.js';

async function runOne(name: string, inputs: Record<string, unknown>) {
  const ex = await createExecutor(loadFlow(`${FIX}/${name}`));
  try {
    return await ex.runLine(inputs);
  } finally {
    await ex.close();
  }
}

test('inputs: and outputs: left empty load as {} (Prompt Flow reads YAML null as empty)', async () => {
  const flow = loadFlow(`${FIX}/empty_io`);
  expect(flow.kind === 'dag' && [flow.inputs, flow.outputs]).toEqual([{}, {}]);
  const r = await runOne('empty_io', {});
  expect(r.status).toBe('Completed');
  expect(r.outputs).toEqual({});
});

test('whole-number floats keep their float type through Python and templates; env vars as json.dumps', async () => {
  const r = await runOne('semantics', { d: '2' });
  expect(r.status).toBe('Completed');
  expect(r.outputs!.shown).toBe('d=2.0 lit=1.0 s=1.0 back=2.0\n');
  const seen = r.outputs!.seen as Record<string, unknown>;
  expect({ d: seen.d, lit: seen.lit, lst: seen.lst }).toEqual({ d: '2.0', lit: '1.0', lst: '[1.0, 2, 300.0]' });
  expect(seen.env).toEqual({ LIST_VAR: '[1, "\\u00e9", 2.5]', DICT_VAR: '{"a": 1, "b": "2"}', NUM_VAR: '3' });
});

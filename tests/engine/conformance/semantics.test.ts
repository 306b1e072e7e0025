/**
 * Smaller Prompt Flow semantics: empty (null) inputs/outputs sections, environment_variables written as
 * Python's json.dumps writes them, and whole-number floats that stay floats (a double input "2" is 2.0 in
 * Python and in templates, a YAML literal 1.0 renders 1.0, a Python 2.0 comes back as 2.0).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flowTestAction } from '../../../src/commands/flow.js';
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

test('a prompt template variable named like the tool parameter `template` is refused before any line, with file:line:col', async () => {
  await expect(createExecutor(loadFlow(`${FIX}/clash_prompt`))).rejects.toThrow(
    /clash_prompt\/flow\.dag\.yaml:9:11: node render: template .*render\.jinja2 uses the variable 'template', which is a parameter of the prompt tool; .*Invalid inputs \{'template'\} in prompt template of node render\./,
  );
});

test('flow test: images saved in --output-dir and named relative to it; NaN/Infinity printed as Python prints them', async () => {
  const out: string[] = [];
  const err: string[] = [];
  const io = { stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => err.push(t) } };
  const dir = mkdtempSync(join(tmpdir(), 'llmops-flow-test-'));
  const outputs = await flowTestAction(`${FIX}/images`, { inputs: ['question=hi'], outputDir: dir }, io);
  const ref = (outputs.picture as Record<string, string>)['data:image/png;path'];
  expect(ref).toMatch(/^[0-9a-f-]{36}\.png$/);
  expect(readFileSync(join(dir, ref))).toEqual(readFileSync(`${FIX}/images/pics/dot.png`));
  expect(err.join('')).toContain(`images in the outputs are saved in ${dir}`);
  // The aggregation's metrics (ratio 1.0, big inf) are printed like Python's json.
  expect(err.join('')).toMatch(/metrics: \{"images":2,"ratio":1(\.0)?,"big":Infinity\}/);
  expect(out.join('')).toContain(`"data:image/png;path": "${ref}"`);
});

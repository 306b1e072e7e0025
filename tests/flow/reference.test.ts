import { parseAssignment, parsePropertyPath, parseReference } from '../../src/shared/flow/index.js';

const at = { file: 'f', line: 1, column: 1 };

describe('reference syntax (§1.5)', () => {
  test.each([
    ['${inputs.url}', { kind: 'flow_input', input: 'url', prefix: 'inputs.' }],
    ['${flow.url}', { kind: 'flow_input', input: 'url', prefix: 'flow.' }],
    ['${inputs.a.b}', { kind: 'flow_input', input: 'a.b' }],
    ['${fetch}', { kind: 'node', node: 'fetch', section: 'output', property: '', path: [] }],
    ['${fetch.output}', { kind: 'node', node: 'fetch', section: 'output', path: [] }],
    [
      "${n.output.items[0]['k.x'].name}",
      {
        kind: 'node',
        node: 'n',
        section: 'output',
        property: "items[0]['k.x'].name",
        path: ['items', 0, 'k.x', 'name'],
      },
    ],
    ["${n.output['k']}", { kind: 'node', node: 'n', section: "output['k']" }],
  ])('%s', (text, expected) => {
    expect(parseReference(text)).toMatchObject({ ...expected, text });
  });

  test.each([['a ${inputs.x}'], ['${'], ['$x'], ['{inputs.x}'], ['${inputs.x']])('%s is a literal', (text) => {
    expect(parseAssignment(text, at)).toEqual({ kind: 'literal', value: text, at });
  });

  test('non-strings are literals of their YAML type', () => {
    expect(parseAssignment(256, at)).toEqual({ kind: 'literal', value: 256, at });
    expect(parseAssignment(['${a.output}'], at).kind).toBe('literal');
  });

  test('property path tokens skip characters that match no token, as Prompt Flow does', () => {
    expect(parsePropertyPath('a-b[1]')).toEqual(['a', 'b', 1]);
  });
});

/** The pieces of an http target: the JSON path subset outputs are read with, and the body template. */
import { compileBody } from '../../src/shared/engine/http-target.js';
import { parseJsonPath, readJsonPath } from '../../src/shared/flow/json-path.js';

const answer = {
  output: [
    { type: 'reasoning', summary: [] },
    {
      type: 'message',
      content: [
        { type: 'output_text', text: 'Hel' },
        { type: 'output_text', text: 'lo' },
      ],
    },
  ],
  'odd key': { 'it.s': 7 },
  list: [1, 2, 3],
};

test('paths read keys, quoted keys, indexes from either end and wildcards', () => {
  const read = (p: string) => readJsonPath(parseJsonPath(p), answer);
  expect(read('$.output[1].content[0].text')).toBe('Hel');
  expect(read('$.output[*].content[*].text')).toEqual(['Hel', 'lo']);
  expect(read("$['odd key']['it.s']")).toBe(7);
  expect(read('$["odd key"].*')).toEqual([7]);
  expect(read('$.list[-1]')).toBe(3);
  expect(read('$.list[3]')).toBeUndefined();
  expect(read('$.missing.deeper')).toBeUndefined();
  expect(read('$')).toBe(answer);
});

test('a path outside the subset says where and what was expected', () => {
  expect(() => parseJsonPath('output.text')).toThrow(/"output\.text" at character 1: found "o", expected \.name/);
  expect(() => parseJsonPath('$..text')).toThrow(/at character 2: found "\.", expected/);
  expect(() => parseJsonPath('$.a[?(@.x)]')).toThrow(/at character 4: found "\[\?\(@\.x\)\]"/);
  expect(() => parseJsonPath('$.a.')).toThrow(/found the end of the path/);
});

test('the body template keeps a whole reference typed and is JSON-safe for any text', () => {
  const render = compileBody({
    messages: [{ role: 'user', content: '${inputs.question}' }],
    history: '${inputs.history}',
    note: 'about ${inputs.question} (${inputs.n})',
    fixed: [1, true, null],
  });
  const question = 'say "hi"\n\\ and }{ ${inputs.n}';
  const body = render({ question, history: [{ role: 'user', content: 'x' }], n: 3 });
  expect(body).toEqual({
    messages: [{ role: 'user', content: question }],
    history: [{ role: 'user', content: 'x' }],
    note: `about ${question} (3)`,
    fixed: [1, true, null],
  });
  // Substituted into the structure, not into JSON text: the request is valid JSON and round-trips.
  expect(JSON.parse(JSON.stringify(body))).toEqual(body);
  expect(render({})).toMatchObject({ messages: [{ content: null }], note: 'about  ()' });
});

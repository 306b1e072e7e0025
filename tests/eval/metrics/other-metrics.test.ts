import { cosineSimilarity, jsonSchemaValid, regexMatch, validateJson } from '../../../src/shared/eval/metrics/index.js';

describe('cosineSimilarity', () => {
  it('is a·b / (|a||b|): [1,2,3]·[4,5,6] = 32 / √(14·77)', () => {
    expect(cosineSimilarity([1, 2, 3], [4, 5, 6])).toBeCloseTo(32 / Math.sqrt(14 * 77), 12); // 0.974632
  });

  it('is 1 for parallel, 0 for orthogonal, −1 for opposite, 0 for a zero vector', () => {
    expect(cosineSimilarity(Float32Array.from([0.1, 0.2]), [0.3, 0.6])).toBeCloseTo(1, 6);
    expect(cosineSimilarity([1, 0], [0, 5])).toBe(0);
    expect(cosineSimilarity([1, 2], [-1, -2])).toBeCloseTo(-1, 12);
    expect(cosineSimilarity([0, 0], [1, 2])).toBe(0);
  });

  it('refuses vectors of different length', () => {
    expect(() => cosineSimilarity([1, 2], [1, 2, 3])).toThrow(/differ in length \(2 and 3\)/);
  });
});

describe('JSON-schema validity', () => {
  const schema = {
    type: 'object',
    required: ['answer', 'confidence'],
    properties: {
      answer: { type: 'string' },
      confidence: { type: 'number', minimum: 0, maximum: 1 },
      email: { type: 'string', format: 'email' },
    },
  };

  it('parses a JSON string output and validates it', () => {
    expect(jsonSchemaValid('{"answer": "Paris", "confidence": 0.9}', schema)).toBe(1);
    expect(jsonSchemaValid('{"answer": "Paris", "confidence": 1.5}', schema)).toBe(0);
    expect(jsonSchemaValid({ answer: 'Paris', confidence: 0.2 }, schema)).toBe(1);
  });

  it('says why an output fails', () => {
    expect(validateJson('{"answer": 3}', schema).errors).toEqual([
      "(root) must have required property 'confidence'",
      '/answer must be string',
    ]);
    expect(validateJson('Sure! {"answer"', schema).errors[0]).toMatch(/^not JSON: /);
    expect(validateJson('{"answer": "a", "confidence": 0, "email": "nope"}', schema).errors).toEqual([
      '/email must match format "email"',
    ]);
  });

  it('understands draft 2020-12 schemas', () => {
    const tuple = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'array',
      prefixItems: [{ type: 'string' }, { type: 'integer' }],
      items: false,
    };
    expect(jsonSchemaValid('["a", 1]', tuple)).toBe(1);
    expect(jsonSchemaValid('["a", 1, 2]', tuple)).toBe(0);
  });
});

describe('regexMatch', () => {
  it('searches anywhere by default; fullMatch needs the whole text', () => {
    expect(regexMatch('The answer is 42.', '\\d+')).toBe(1);
    expect(regexMatch('The answer is 42.', '\\d+', { fullMatch: true })).toBe(0);
    expect(regexMatch('42', '\\d+|none', { fullMatch: true })).toBe(1);
  });

  it('takes flags, and a /g RegExp gives the same answer on every line', () => {
    expect(regexMatch('YES', '^yes$', { flags: 'i' })).toBe(1);
    const re = /yes/g;
    expect([regexMatch('yes', re), regexMatch('yes', re), regexMatch('yes', re)]).toEqual([1, 1, 1]);
  });

  it('reports an invalid pattern', () => {
    expect(() => regexMatch('x', '(')).toThrow(SyntaxError);
  });
});

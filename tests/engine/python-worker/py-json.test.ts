import fc from 'fast-check';
import { parsePyJson, stringifyPyJson } from '../../../src/shared/engine/python-worker/py-json.js';
import { PyFloat, pyFloat } from '../../../src/shared/engine/template/index.js';

test('Python NaN/Infinity tokens parse, including inside nested values, never inside strings', () => {
  const parsed = parsePyJson(
    '{"a": NaN, "b": [Infinity, -Infinity, 1e3], "s": "NaN Infinity \\" x", "n": null}',
  ) as Record<string, unknown>;
  expect(parsed.a).toBeNaN();
  // Python reads 1e3 as the float 1000.0: it stays a Python float.
  expect(parsed.b).toEqual([Infinity, -Infinity, pyFloat(1000)]);
  expect(parsed.s).toBe('NaN Infinity " x');
  expect(parsed.n).toBeNull();
});

test('non-finite numbers are written as tokens Python reads, other values as plain JSON', () => {
  expect(stringifyPyJson({ a: NaN, b: [Infinity, -Infinity], c: 'NaN' })).toBe(
    '{"a":NaN,"b":[Infinity,-Infinity],"c":"NaN"}',
  );
  expect(stringifyPyJson({ a: 1, b: 'x' })).toBe('{"a":1,"b":"x"}');
});

test("whole-number floats keep their float type both ways (Python's 2.0 is not the int 2)", () => {
  const parsed = parsePyJson('{"f": 2.0, "i": 2, "e": 3e2, "half": 0.5, "s": "2.0", "l": [1.0, -0.0]}') as Record<
    string,
    unknown
  >;
  expect(parsed.f).toBeInstanceOf(PyFloat);
  expect((parsed.f as PyFloat).value).toBe(2);
  expect(parsed.i).toBe(2);
  expect((parsed.e as PyFloat).value).toBe(300);
  expect(parsed.half).toBe(0.5);
  expect(parsed.s).toBe('2.0');
  expect(stringifyPyJson(parsed)).toBe('{"f":2.0,"i":2,"e":300.0,"half":0.5,"s":"2.0","l":[1.0,-0.0]}');
  expect(stringifyPyJson({ big: pyFloat(1e20), nan: NaN }, 2)).toBe('{\n  "big": 1e+20,\n  "nan": NaN\n}');
});

test('invalid JSON is still rejected', () => {
  expect(() => parsePyJson('{"a": NaNa}')).toThrow(SyntaxError);
  expect(() => parsePyJson('[1, 2')).toThrow(SyntaxError);
});

// JSON has no -0, so the generator avoids it.
test('round trip equals the input for any JSON value with non-finite numbers mixed in', () => {
  const value = fc.letrec((tie) => ({
    leaf: fc.oneof(
      fc.double().map((d) => (Object.is(d, -0) ? 0 : d)),
      fc.string(),
      fc.boolean(),
      fc.constant(null),
      fc.integer(),
    ),
    node: fc.oneof(
      { depthSize: 'small' },
      tie('leaf'),
      fc.array(tie('node'), { maxLength: 4 }),
      fc.dictionary(fc.string(), tie('node'), { maxKeys: 4 }),
    ),
  })).node;
  fc.assert(
    fc.property(value, (v) => {
      expect(parsePyJson(stringifyPyJson(v))).toEqual(v);
    }),
  );
});

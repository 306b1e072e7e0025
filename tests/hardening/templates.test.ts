/**
 * Hostile templates: every render finishes or stops with a clear error within its budget (issue 11).
 * Table-driven corpus with the exact error and a time bound, then a fast-check property over generated
 * templates and data.
 */
import fc from 'fast-check';
import {
  DEFAULT_RENDER_LIMITS,
  JinjaTemplateError,
  renderLimits,
  renderTemplate,
  resetRenderLimits,
  setRenderLimits,
} from '../../src/shared/engine/template/index.js';
import { renderLimitsFromEnv } from '../../src/shared/engine/template/budget.js';
import { ConfigError } from '../../src/shared/errors.js';

afterEach(() => resetRenderLimits());

const STEPS =
  /^Failed to render jinja template: TemplateBudgetError: the render took more than 5000000 steps \(loop iterations and items handled\) and was stopped; raise LLMOPS_TEMPLATE_MAX_STEPS/;
const OUTPUT =
  /^Failed to render jinja template: TemplateBudgetError: the render built text longer than 16777216 characters and was stopped; raise LLMOPS_TEMPLATE_MAX_OUTPUT_CHARS/;

interface Case {
  name: string;
  template: string;
  vars?: Record<string, unknown>;
  /** The rendered text, or the error message it must stop with. */
  expected: string | RegExp;
  /** Bound on the render's time, default limits. */
  withinMs: number;
}

const deep = (n: number): unknown => {
  let v: unknown = 'leaf';
  for (let i = 0; i < n; i++) v = [v];
  return v;
};

const CASES: Case[] = [
  {
    name: 'nested loops each under the range cap',
    template: '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}',
    expected: STEPS,
    withinMs: 5000,
  },
  {
    name: 'three nested loops with output',
    template:
      '{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}.{% endfor %}{% endfor %}{% endfor %}',
    expected: STEPS,
    withinMs: 5000,
  },
  {
    name: 'a loop filter over a huge range, nested',
    template: '{% for i in range(100000) %}{% for j in range(100000) if j > i %}{% endfor %}{% endfor %}',
    expected: STEPS,
    withinMs: 5000,
  },
  {
    name: 'membership tests against a big list in a loop',
    template: '{% for i in range(100000) %}{% if -1 in big %}{% endif %}{% endfor %}',
    vars: { big: Array.from({ length: 100_000 }, (_, i) => i) },
    expected: STEPS,
    withinMs: 5000,
  },
  {
    name: 'a list repeated a hundred million times',
    template: '{{ ([1] * 100000000)|length }}',
    expected: STEPS,
    withinMs: 1000,
  },
  {
    name: 'a string repeated a hundred million times',
    template: "{{ 'a' * 100000000 }}",
    expected: OUTPUT,
    withinMs: 1000,
  },
  {
    name: 'a string repeated 2**70 times (as Python)',
    template: "{{ 'ab' * 2**70 }}",
    expected: /^Failed to render jinja template: OverflowError: cannot fit 'int' into an index-sized integer/,
    withinMs: 1000,
  },
  { name: 'a string repeated 2**62 times', template: "{{ 'ab' * 2**62 }}", expected: OUTPUT, withinMs: 1000 },
  { name: 'an empty list repeated 2**62 times', template: '{{ [] * 2**62 }}', expected: '[]', withinMs: 1000 },
  {
    name: 'a replace that multiplies the length',
    template: "{{ ('a' * 3000000).replace('a', 'bbbbbbbb') }}",
    expected: OUTPUT,
    withinMs: 1000,
  },
  {
    name: 'a replace filter that multiplies the length',
    template: "{{ ('a' * 3000000)|replace('a', 'bbbbbbbb') }}",
    expected: OUTPUT,
    withinMs: 1000,
  },
  {
    name: 'output grown by a loop',
    template: "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}",
    expected: OUTPUT,
    withinMs: 3000,
  },
  {
    name: 'concatenation beyond the output budget',
    template: "{{ ('ab' * 4000000) ~ ('cd' * 5000000) }}",
    expected: OUTPUT,
    withinMs: 2000,
  },
  {
    name: 'joining a long list of long strings',
    template: "{{ ['y' * 1000] * 20000 }}",
    expected: OUTPUT,
    withinMs: 3000,
  },
  {
    name: 'a method on a 1 MB string in a long loop',
    template: '{% for i in range(100000) %}{{ big.upper()|length }}{% endfor %}',
    vars: { big: 'a'.repeat(1_000_000) },
    expected: STEPS,
    withinMs: 5000,
  },
  {
    name: 'a filter on a 1 MB string in a long loop',
    template: '{% for i in range(100000) %}{{ big|upper|length }}{% endfor %}',
    vars: { big: 'a'.repeat(1_000_000) },
    expected: STEPS,
    withinMs: 5000,
  },
  {
    name: 'substring tests on a 1 MB string in a long loop',
    template: "{% for i in range(100000) %}{% if 'zz' in big %}{% endif %}{% endfor %}",
    vars: { big: 'a'.repeat(1_000_000) },
    expected: STEPS,
    withinMs: 5000,
  },
  {
    name: 'float filter on a 200,000-digit non-number',
    template: '{{ v|float }}',
    vars: { v: `${'1'.repeat(200_000)}x` },
    expected: '0.0',
    withinMs: 1000,
  },
  {
    name: 'int filter on a 200,000-digit non-number',
    template: '{{ v|int }}',
    vars: { v: `${'1'.repeat(200_000)}x` },
    expected: '0',
    withinMs: 1000,
  },
  {
    name: 'trim of 1 MB of spaces before a word',
    template: '{{ v|trim|length }}',
    vars: { v: `${' '.repeat(1_000_000)}x${' '.repeat(1_000_000)}` },
    expected: '1',
    withinMs: 1000,
  },
  {
    name: '10**10**10 is (10**10)**10 in Jinja, exact',
    template: '{{ 10**10**10 }}',
    expected: `1${'0'.repeat(100)}`,
    withinMs: 500,
  },
  {
    name: 'a power too big to build',
    template: '{{ 2**(2**40) }}',
    expected:
      'Failed to render jinja template: OverflowError: integer result too large (more than 1048576 bits); the template sandbox stops here. Please modify your prompt to fix the issue.',
    withinMs: 500,
  },
  {
    name: 'printing a 47,000-digit int',
    template: '{{ 3**100000 }}',
    expected:
      'Failed to render jinja template: ValueError: Exceeds the limit (4300 digits) for integer string conversion; use sys.set_int_max_str_digits() to increase the limit. Please modify your prompt to fix the issue.',
    withinMs: 1000,
  },
  {
    name: 'a range over the sandbox cap',
    template: '{{ range(1000001)|length }}',
    expected: /OverflowError: Range too big. The sandbox blocks ranges larger than MAX_RANGE \(100000\)/,
    withinMs: 500,
  },
  {
    name: 'a 100,000-deep value printed',
    template: '{{ v }}',
    vars: { v: deep(100_000) },
    expected: /^Failed to render jinja template: MemoryError: Maximum call stack size exceeded/,
    withinMs: 2000,
  },
];

describe('hostile templates stop with a clear error, in bounded time', () => {
  test.each(CASES)('$name', ({ template, vars, expected, withinMs }) => {
    const started = performance.now();
    let text: string | undefined;
    let error: unknown;
    try {
      text = renderTemplate(template, vars ?? {});
    } catch (e) {
      error = e;
    }
    const ms = performance.now() - started;
    if (typeof expected === 'string' && !expected.startsWith('Failed to render')) expect(text).toBe(expected);
    else {
      expect(error).toBeInstanceOf(JinjaTemplateError);
      expect((error as Error).message).toMatch(expected);
    }
    expect(ms).toBeLessThan(withinMs);
  });

  test('the time limit stops a render whose steps are allowed (TimeoutError, coded as a line timeout)', () => {
    setRenderLimits({ maxSteps: 1e12, maxMs: 300 });
    const started = performance.now();
    expect(() =>
      renderTemplate('{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}', {}),
    ).toThrow(
      'Failed to render jinja template: TimeoutError: the render ran longer than 300 ms (the line timeout) and was stopped. Please modify your prompt to fix the issue.',
    );
    expect(performance.now() - started).toBeLessThan(1500);
  });

  test('the budgets come from the environment; a bad value is a config error naming the variable', () => {
    expect(renderLimitsFromEnv({ LLMOPS_TEMPLATE_MAX_STEPS: '100', LLMOPS_TEMPLATE_MAX_OUTPUT_CHARS: '50' })).toEqual({
      maxSteps: 100,
      maxOutputChars: 50,
    });
    expect(renderLimitsFromEnv({})).toEqual({ maxSteps: undefined, maxOutputChars: undefined });
    expect(() => renderLimitsFromEnv({ LLMOPS_TEMPLATE_MAX_STEPS: 'lots' })).toThrow(ConfigError);
    expect(() => renderLimitsFromEnv({ LLMOPS_TEMPLATE_MAX_STEPS: 'lots' })).toThrow(
      /LLMOPS_TEMPLATE_MAX_STEPS.*found "lots", expected a positive whole number/,
    );
    setRenderLimits({ maxSteps: 100 });
    expect(() => renderTemplate('{% for i in range(200) %}{% endfor %}', {})).toThrow(/more than 100 steps/);
    expect(renderTemplate('{% for i in range(20) %}{{ i }}{% endfor %}', {})).toBe('012345678910111213141516171819');
  });

  test('ordinary templates are untouched by the budgets (defaults are generous)', () => {
    expect(renderLimits()).toEqual(DEFAULT_RENDER_LIMITS);
    const history = Array.from({ length: 200 }, (_, i) => ({ q: `question ${i}`, a: `answer ${i}` }));
    const text = renderTemplate('{% for h in history %}user: {{ h.q }}\nassistant: {{ h.a }}\n{% endfor %}', {
      history,
    });
    expect(text.split('\n')).toHaveLength(401);
  });
});

// Generated templates: loops over ranges and data, sets, output, arithmetic and string growth, nested.
const atom = fc.constantFrom(
  'x',
  'n',
  'l',
  'd',
  's',
  '1',
  '7',
  '2**64',
  "'ab'",
  'range(1000)',
  'range(n)',
  'l * 20',
  's * 300',
  's ~ s',
  '[1, 2] + l',
  'd.items()',
  'n ** n',
  'x|string|length',
  'l|join(s)',
  '(n * 100000)',
  "'x' * 100000",
);
const expr = fc.oneof(
  atom,
  fc
    .tuple(atom, fc.constantFrom('+', '*', '~', '**', '//', '%', ' in '), atom)
    .map(([a, op, b]) => `(${a} ${op} ${b})`),
);
const stmt = fc.letrec((tie) => ({
  s: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('text ', '\n'),
    expr.map((e) => `{{ ${e} }}`),
    expr.map((e) => `{% set x = ${e} %}`),
    fc
      .tuple(
        fc.constantFrom('range(100000)', 'range(n)', 'l', 'd', 's', 'range(1000)'),
        fc.array(tie('s'), { maxLength: 3 }),
      )
      .map(([it, body]) => `{% for v in ${it} %}${body.join('')}{% endfor %}`),
    fc.tuple(expr, fc.array(tie('s'), { maxLength: 3 })).map(([c, body]) => `{% if ${c} %}${body.join('')}{% endif %}`),
  ),
})).s;
const data = fc.record({
  x: fc.jsonValue({ maxDepth: 3 }),
  n: fc.integer({ min: -5, max: 100_000 }),
  l: fc.array(fc.oneof(fc.integer(), fc.string()), { maxLength: 50 }),
  d: fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
  s: fc.string({ maxLength: 30 }),
});

test('property: any template over any data renders or stops with JinjaTemplateError within its budget', () => {
  // Small budgets keep the property fast; what it proves is that nothing escapes them.
  const limits = { maxSteps: 200_000, maxOutputChars: 200_000, maxMs: 1_000 };
  fc.assert(
    fc.property(fc.array(stmt, { minLength: 1, maxLength: 4 }), data, (parts, vars) => {
      setRenderLimits(limits);
      const started = performance.now();
      try {
        const text = renderTemplate(parts.join(''), vars);
        expect(text.length).toBeLessThanOrEqual(limits.maxOutputChars);
      } catch (e) {
        if (!(e instanceof JinjaTemplateError)) throw e;
      }
      // The step budget bounds the work; the clock is the backstop (checked every 1024 steps).
      expect(performance.now() - started).toBeLessThan(limits.maxMs + 1_000);
    }),
    { numRuns: 300 },
  );
});

test('a loop of large integer powers is counted as the work it is, and stops within the budget', () => {
  // Found by the property above: 15271 ** 15271 (about 212,000 bits) takes milliseconds, and a thousand of them ran
  // past the clock, which is read every 1,024 steps, before any check.
  setRenderLimits({ maxSteps: 200_000, maxOutputChars: 200_000, maxMs: 1_000 });
  const started = performance.now();
  expect(() => renderTemplate('{% for v in range(1000) %}{% set x = n ** n %}{% endfor %}', { n: 15271 })).toThrow(
    /more than 200000 steps|ran longer than 1 seconds/,
  );
  // Stopped at a check a few powers after its budget ran out (the property's bound).
  expect(performance.now() - started).toBeLessThan(2_000);
});

test('property: any text as a template (tags, brackets, numbers, quotes) renders or fails with JinjaTemplateError', () => {
  const piece = fc.constantFrom(
    '{{',
    '}}',
    '{%',
    '%}',
    '{#',
    '#}',
    'for',
    'in',
    'if',
    'endif',
    'endfor',
    'set',
    '=',
    'range(',
    ')',
    '(',
    '[',
    ']',
    '**',
    '*',
    '+',
    '-',
    '~',
    '|',
    'join',
    'x',
    'l',
    "'",
    '"',
    '9',
    '99999999999999999999',
    '.',
    ',',
    ' ',
    '\n',
    'not',
    'and',
    'loop.index',
    '-%}',
    '{%-',
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 40 }), (parts) => {
      setRenderLimits({ maxSteps: 100_000, maxOutputChars: 100_000, maxMs: 1_000 });
      const started = performance.now();
      try {
        renderTemplate(parts.join(''), { x: 3, l: [1, 'a', null] });
      } catch (e) {
        if (!(e instanceof JinjaTemplateError)) throw e;
      }
      expect(performance.now() - started).toBeLessThan(2_000);
    }),
    { numRuns: 2000 },
  );
});

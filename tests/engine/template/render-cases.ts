/**
 * Templates written for this project with what Python Jinja2 as Prompt Flow configures it renders
 * (promptflow-formats.md §2.1). Shared by the literal-expectation tests and the live Python comparison.
 */
import { ChatInputList, pyFloat } from '../../../src/shared/engine/template/index.js';

export interface RenderCase {
  name: string;
  /** The spec section the expectation follows. */
  spec: string;
  template: string;
  vars: Record<string, unknown>;
  chat?: boolean;
  /** Rendered text, or the Python exception type and message. */
  expected: string | { error: string; message: string };
}

const history = [
  { inputs: { question: 'What is 2+2?' }, outputs: { answer: '4' } },
  { inputs: { question: "And it's square?" }, outputs: { answer: '16' } },
];

export const RENDER_CASES: RenderCase[] = [
  // §2.1 Python str() of values
  {
    name: 'bool and None print as Python',
    spec: '§2.1',
    template: '{{ a }} {{ b }} {{ c }}',
    vars: { a: true, b: false, c: null },
    expected: 'True False None',
  },
  { name: 'list repr', spec: '§2.1', template: '{{ x }}', vars: { x: ['a', 'b'] }, expected: "['a', 'b']" },
  { name: 'dict repr', spec: '§2.1', template: '{{ x }}', vars: { x: { k: 'v' } }, expected: "{'k': 'v'}" },
  {
    name: 'nested containers',
    spec: '§2.1',
    template: '{{ x }}',
    vars: { x: { a: [1, { b: null, c: true }], d: {} } },
    expected: "{'a': [1, {'b': None, 'c': True}], 'd': {}}",
  },
  {
    name: 'string with a quote uses double quotes',
    spec: '§2.1',
    template: '{{ x }}',
    vars: { x: ["it's"] },
    expected: `["it's"]`,
  },
  {
    name: 'string with both quotes escapes the single one',
    spec: '§2.1',
    template: '{{ x }}',
    vars: { x: [`a'b"c`, 'a"b'] },
    expected: `['a\\'b"c', 'a"b']`,
  },
  {
    name: 'control and non-printable characters in repr',
    spec: '§2.1',
    template: '{{ x }}',
    vars: { x: ['tab\there\nnl\\', '\u0001\u2028é'] },
    expected: "['tab\\there\\nnl\\\\', '\\x01\\u2028é']",
  },
  {
    name: 'double input prints 1.0',
    spec: '§2.1',
    template: '{{ t }} {{ n }}',
    vars: { t: pyFloat(1), n: 1 },
    expected: '1.0 1',
  },
  {
    name: 'float repr forms',
    spec: '§2.1',
    template: '{{ x }}',
    vars: {
      x: [
        0.7,
        pyFloat(1),
        1e-5,
        0.0001,
        pyFloat(1e16),
        pyFloat(1e22),
        123456789012345.6,
        0.1 + 0.2,
        Infinity,
        NaN,
        pyFloat(-0),
      ],
    },
    expected: '[0.7, 1.0, 1e-05, 0.0001, 1e+16, 1e+22, 123456789012345.6, 0.30000000000000004, inf, nan, -0.0]',
  },
  {
    name: 'big integers print in full',
    spec: '§2.1',
    template: '{{ x }}',
    vars: { x: [1e16, 1e22] },
    expected: '[10000000000000000, 10000000000000000000000]',
  },
  {
    name: 'AzureOpenAI chat: list prints as lines',
    spec: '§2.1 ChatInputList',
    template: '{{ x }}|{{ d }}',
    vars: { x: ['a', ['b', 'c'], { k: 1 }], d: { l: [1, 2] } },
    chat: true,
    expected: "a\nb\nc\n{'k': 1}|{'l': [1, 2]}",
  },
  {
    name: 'ChatInputList given directly',
    spec: '§2.1 ChatInputList',
    template: '{{ x }}',
    vars: { x: ChatInputList.from(['a', 'b']) },
    expected: 'a\nb',
  },
  // §2.1 trim_blocks / keep_trailing_newline over chat history
  {
    name: 'chat history loop',
    spec: '§2.1 trim_blocks, keep_trailing_newline',
    template:
      '# system:\nYou answer.\n\n{% for item in chat_history %}\n# user:\n{{item.inputs.question}}\n# assistant:\n{{item.outputs.answer}}\n{% endfor %}\n# user:\n{{question}}\n',
    vars: { chat_history: history, question: 'Bye' },
    expected:
      "# system:\nYou answer.\n\n# user:\nWhat is 2+2?\n# assistant:\n4\n# user:\nAnd it's square?\n# assistant:\n16\n# user:\nBye\n",
  },
  {
    name: 'indentation before a block tag is kept (lstrip_blocks off)',
    spec: '§2.1',
    template: 'a\n  {% if x %}\n  b\n  {% endif %}\nc',
    vars: { x: 1 },
    expected: 'a\n    b\n  c',
  },
  {
    name: 'CRLF template renders with LF',
    spec: '§2.1',
    template: 'a\r\n{% if x %}\r\nb\r\n{% endif %}\r\n',
    vars: { x: true },
    expected: 'a\nb\n',
  },
  {
    name: 'whitespace control dashes',
    spec: '§2.1',
    template: 'a  {%- if x -%}  b  {%- endif %}\nc',
    vars: { x: true },
    expected: 'abc',
  },
  {
    name: 'comment trims its newline',
    spec: '§2.1',
    template: '{# note #}\nHello {{ name }}',
    vars: { name: 'W' },
    expected: 'Hello W',
  },
  { name: 'raw block', spec: '§2.1', template: '{% raw %}{{ x }}{% endraw %}', vars: {}, expected: '{{ x }}' },
  // §2.1 undefined
  {
    name: 'undefined prints empty',
    spec: '§2.1 Undefined',
    template: '[{{ missing }}][{{ d.missing }}][{{ l[5] }}]',
    vars: { d: {}, l: [] },
    expected: '[][][]',
  },
  {
    name: 'iterating undefined yields nothing',
    spec: '§2.1 Undefined',
    template: '{% for x in missing %}X{% else %}empty{% endfor %}|{{ missing|length }}|{{ missing|join(",") }}',
    vars: {},
    expected: 'empty|0|',
  },
  {
    name: 'attribute of an undefined value raises',
    spec: '§2.1 Undefined (Jinja2 default Undefined)',
    template: '{{ missing.x }}',
    vars: {},
    expected: { error: 'UndefinedError', message: "'missing' is undefined" },
  },
  {
    name: 'undefined in arithmetic raises',
    spec: '§2.1 Undefined',
    template: '{{ d.n + 1 }}',
    vars: { d: {} },
    expected: { error: 'UndefinedError', message: "'dict object' has no attribute 'n'" },
  },
  {
    name: 'default filter',
    spec: '§2.1 filters',
    template: "{{ missing|default('d') }} {{ ''|default('e', true) }} {{ 0|default(5) }}",
    vars: {},
    expected: 'd e 0',
  },
  // §2.1 `in`, attribute/subscript access, truthiness
  {
    name: 'in on dicts, lists and strings',
    spec: '§2.1 in',
    template: "{{ 'function_call' in o }} {{ 'x' in o }} {{ 1 in l }} {{ 'ell' in s }} {{ 'z' not in s }}",
    vars: { o: { function_call: {} }, l: [pyFloat(1)], s: 'hello' },
    expected: 'True False True True True',
  },
  {
    name: 'in drives a branch',
    spec: '§2.1 in',
    template:
      "{% if 'function_call' in item.outputs.llm_output %}call {{ item.outputs.llm_output.function_call.name }}{% else %}text{% endif %}",
    vars: { item: { outputs: { llm_output: { function_call: { name: 'f' } } } } },
    expected: 'call f',
  },
  {
    name: 'subscript with string key and slices',
    spec: '§2.1',
    template: "{{ m['role'] }} {{ l[-1] }} {{ l[0:2] }} {{ 'abc'[::-1] }}",
    vars: { m: { role: 'user' }, l: [1, 2, 3] },
    expected: 'user 3 [1, 2] cba',
  },
  {
    name: 'truthiness',
    spec: '§2.1',
    template:
      '{% if e %}1{% endif %}{% if z %}2{% endif %}{% if d %}3{% endif %}{% if s %}4{% endif %}{% if n %}5{% endif %}',
    vars: { e: [], z: 0, d: {}, s: 'x', n: NaN },
    expected: '45',
  },
  {
    name: 'if / elif / else',
    spec: '§2.1',
    template: '{% for n in l %}{% if n > 2 %}big{% elif n == 2 %}two{% else %}small{% endif %} {% endfor %}',
    vars: { l: [1, 2, 3] },
    expected: 'small two big ',
  },
  {
    name: 'tuple unpacking with arithmetic',
    spec: '§2.1 (chat-with-pdf)',
    template: '{% for i, c in context %}[{{i+1}}] {{c}}\n{% endfor %}',
    vars: {
      context: [
        [0, 'first'],
        [1, 'second'],
      ],
    },
    expected: '[1] first\n[2] second\n',
  },
  {
    name: 'dict items loop',
    spec: '§2.1',
    template: '{% for k, v in d.items() %}{{k}}={{v}};{% endfor %}',
    vars: { d: { a: 1, b: 'x' } },
    expected: 'a=1;b=x;',
  },
  {
    name: 'loop variable',
    spec: '§2.1',
    template: '{% for x in l %}{{ loop.index }}/{{ loop.length }}{% if not loop.last %},{% endif %}{% endfor %}',
    vars: { l: ['a', 'b'] },
    expected: '1/2,2/2',
  },
  {
    name: 'stray braces are literal text',
    spec: '§2.1 stray braces',
    template: '{{x}}}} and } {',
    vars: { x: 'v' },
    expected: 'v}} and } {',
  },
  // arithmetic
  {
    name: 'arithmetic keeps int/float types',
    spec: '§2.1 / §11.1',
    template:
      "{{ 4/2 }} {{ 7//2 }} {{ 2**10 }} {{ 2**-1 }} {{ -7 % 3 }} {{ -7 // 2 }} {{ 1 + 1.0 }} {{ 'a' ~ 1 ~ none }} {{ 'ab' * 2 }} {{ true + 1 }}",
    vars: {},
    expected: '2.0 3 1024 0.5 2 -4 2.0 a1None abab 2',
  },
  {
    name: 'division by zero',
    spec: '§2.1 errors',
    template: '{{ 1/0 }}',
    vars: {},
    expected: { error: 'ZeroDivisionError', message: 'division by zero' },
  },
  {
    name: 'str + int',
    spec: '§2.1 errors',
    template: "{{ 'a' + 1 }}",
    vars: {},
    expected: { error: 'TypeError', message: 'can only concatenate str (not "int") to str' },
  },
  {
    name: 'iterating None',
    spec: '§2.1 errors',
    template: '{% for a in x %}{% endfor %}',
    vars: { x: null },
    expected: { error: 'TypeError', message: "'NoneType' object is not iterable" },
  },
  {
    name: 'unpacking too few values',
    spec: '§2.1 errors',
    template: '{% for a, b in x %}{% endfor %}',
    vars: { x: [[1]] },
    expected: { error: 'ValueError', message: 'not enough values to unpack (expected 2, got 1)' },
  },
  // filters used in real flows
  {
    name: 'join, length, lower, upper, trim',
    spec: '§2.1 filters',
    template:
      "{{ l|join('') }}|{{ l|join(', ') }}|{{ l|length }}|{{ 'AbC'|lower }}{{ 'x'|upper }}|{{ '  t \n'|trim }}|",
    vars: { l: ['a', 1, pyFloat(2)] },
    expected: 'a12.0|a, 1, 2.0|3|abcX|t|',
  },
  {
    name: 'tojson sorts keys and escapes html',
    spec: '§2.1 filters',
    template: '{{ x|tojson }}',
    vars: { x: { b: 'é<&>', a: [pyFloat(1), null, "it's"] } },
    expected: '{"a": [1.0, null, "it\\u0027s"], "b": "\\u00e9\\u003c\\u0026\\u003e"}',
  },
  {
    name: 'replace, round, int, float, string',
    spec: '§2.1 filters',
    template:
      "{{ 'a-b'|replace('-', '+') }} {{ 2.5|round }} {{ 3.5|round }} {{ 2.675|round(2) }} {{ 7|round }} {{ '3.7'|int }} {{ 'x'|int }} {{ 3.9|int }} {{ '12'|float }} {{ 5|string }}",
    vars: {},
    expected: 'a+b 2.0 4.0 2.67 7 3 0 3 12.0 5',
  },
  {
    name: 'string methods',
    spec: '§2.1',
    template: "{{ s.strip().upper() }} {{ s.split() }} {{ 'a,b'.split(',') }} {{ d.get('k', 'none') }}",
    vars: { s: ' a b ', d: {} },
    expected: "A B ['a', 'b'] ['a', 'b'] none",
  },
  {
    name: 'percent formatting',
    spec: '§2.1',
    template: "{{ '%.2f' % x }} {{ '%s-%s' % (1, 'a') }}",
    vars: { x: 0.456 },
    expected: '0.46 1-a',
  },
  // Python ints are unbounded (issue 11): exact big results, CPython's 4300-digit print limit.
  {
    name: 'power chains are left-associative in Jinja and exact',
    spec: '§2.1 ints',
    template: '{{ 10**10**10 }}',
    vars: {},
    expected: '1' + '0'.repeat(100),
  },
  {
    name: 'big int arithmetic is exact',
    spec: '§2.1 ints',
    template: '{{ 2**64 * 2**64 }} {{ -(2**64) }} {{ 2**64 % 7 }} {{ 2**53 + 1 }}',
    vars: {},
    expected: '340282366920938463463374607431768211456 -18446744073709551616 2 9007199254740993',
  },
  {
    name: 'big int literals stay exact',
    spec: '§2.1 ints',
    template: '{{ 9007199254740993 + 1 }} {{ 123456789012345678901234567890 // 7 }}',
    vars: {},
    expected: '9007199254740994 17636684144620811271604938270',
  },
  {
    name: 'big ints compare exactly',
    spec: '§2.1 ints',
    template: '{{ 2**64 == 2**64 + 1 }} {{ 2**64 > 2**64 - 1 }} {{ 2**70 in [2**70] }}',
    vars: {},
    expected: 'False True True',
  },
  {
    name: 'floor division and modulo of big negatives',
    spec: '§2.1 ints',
    template: '{{ -(2**70) // 3 }} {{ -(2**70) % 3 }} {{ 7 // -(2**60) }}',
    vars: {},
    expected: '-393530540239137101142 2 -1',
  },
  {
    name: 'big int to float',
    spec: '§2.1 ints',
    template: '{{ (2**70) / 3 }} {{ 2**70 + 0.5 }}',
    vars: {},
    expected: '3.935305402391371e+20 1.1805916207174113e+21',
  },
  {
    name: 'big int tojson',
    spec: '§2.1 ints',
    template: '{{ [2**70]|tojson }}',
    vars: {},
    expected: '[1180591620717411303424]',
  },
  {
    name: 'big ints through filters and formatting',
    spec: '§2.1 ints',
    template:
      "{{ (-(2**70))|abs }} {{ (2**70)|int }} {{ (2**70) is integer }} {{ (2**70)|round }} {{ '%d' % 2**70 }} {{ (2**70)|string }}",
    vars: {},
    expected:
      '1180591620717411303424 1180591620717411303424 True 1180591620717411303424 1180591620717411303424 1180591620717411303424',
  },
  {
    name: 'empty list repeated many times',
    spec: '§2.1 ints',
    template: '{{ [] * 2**62 }}|{{ "" * 2**62 }}',
    vars: {},
    expected: '[]|',
  },
  {
    name: 'a repeat count beyond an index-sized integer',
    spec: '§2.1 ints',
    template: '{{ [] * 2**70 }}',
    vars: {},
    expected: { error: 'OverflowError', message: "cannot fit 'int' into an index-sized integer" },
  },
  {
    name: 'printing more than 4300 digits raises as CPython',
    spec: '§2.1 ints',
    template: '{{ 3**100000 }}',
    vars: {},
    expected: {
      error: 'ValueError',
      message:
        'Exceeds the limit (4300 digits) for integer string conversion; use sys.set_int_max_str_digits() to increase the limit',
    },
  },
];

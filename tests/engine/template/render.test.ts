import { describe, expect, it } from '@jest/globals';
import {
  compileTemplate,
  JinjaTemplateError,
  renderTemplate,
  syntaxProblem,
  TemplateSyntaxError,
} from '../../../src/shared/engine/template/index.js';
import { pythonJinjaAvailable, renderWithPython } from './python-jinja.js';
import { RENDER_CASES } from './render-cases.js';

function render(template: string, vars: Record<string, unknown>, chat = false): string {
  return compileTemplate(template).render(vars, { chatInputList: chat });
}

describe('Jinja rendering as Prompt Flow configures it', () => {
  for (const c of RENDER_CASES) {
    it(`${c.name} (${c.spec})`, () => {
      if (typeof c.expected === 'string') {
        expect(render(c.template, c.vars, c.chat)).toBe(c.expected);
      } else {
        // §2.1: render failures carry Prompt Flow's JinjaTemplateError message.
        const message = `Failed to render jinja template: ${c.expected.error}: ${c.expected.message}. Please modify your prompt to fix the issue.`;
        expect(() => render(c.template, c.vars, c.chat)).toThrow(message);
      }
    });
  }

  it('a compiled template renders many lines independently (compile once, render many)', () => {
    const t = compileTemplate('{% for m in h %}{% set last = m %}{{ m }}{% endfor %}[{{ last }}]');
    expect(t.render({ h: ['a', 'b'] })).toBe('ab[]');
    expect(t.render({ h: ['c'], last: 'given' })).toBe('c[given]');
  });

  it('render errors are JinjaTemplateError user errors', () => {
    try {
      render('{{ 1 // 0 }}', {});
      throw new Error('expected a failure');
    } catch (err) {
      expect(err).toBeInstanceOf(JinjaTemplateError);
      expect((err as JinjaTemplateError).pyType).toBe('ZeroDivisionError');
      expect((err as JinjaTemplateError).code).toBe('JinjaTemplateError');
    }
  });
});

describe('template syntax errors (§2.1, reported at load time)', () => {
  const cases: Array<[string, string, number, number]> = [
    ['line 1\n{% foo %}', "Encountered unknown tag 'foo'.", 2, 4],
    ['{{ x }', "unexpected '}'", 1, 6],
    [
      '{% if x %}\na',
      "Unexpected end of template. Jinja was looking for the following tags: 'elif' or 'else' or 'endif'. The innermost block that needs to be closed is 'if'.",
      2,
      2,
    ],
    [
      '{% for x in y %}a{% endif %}',
      "Encountered unknown tag 'endif'. Jinja was looking for the following tags: 'endfor' or 'else'. The innermost block that needs to be closed is 'for'.",
      1,
      21,
    ],
    ['ok\n\n  {{ x|nofilter }}', "No filter named 'nofilter'.", 3, 8],
    ['a\n{{ x + }}', "unexpected 'end of print statement'", 2, 8],
  ];
  for (const [template, reason, line, column] of cases) {
    it(`${JSON.stringify(template)} → ${reason}`, () => {
      let caught: unknown;
      try {
        compileTemplate(template);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(TemplateSyntaxError);
      const e = caught as TemplateSyntaxError;
      expect({ reason: e.reason, line: e.line, column: e.column }).toEqual({ reason, line, column });
      expect(syntaxProblem(e, 'flows/x/chat.jinja2')).toEqual({
        file: 'flows/x/chat.jinja2',
        line,
        column,
        message: `invalid Jinja template: ${reason}`,
      });
    });
  }

  it('a template that arrives at run time fails the line instead (renderTemplate)', () => {
    expect(() => renderTemplate('{% foo %}', {})).toThrow(
      "Failed to render jinja template: TemplateSyntaxError: Encountered unknown tag 'foo'.",
    );
    expect(renderTemplate('Hi {{ n }}', { n: 2 })).toBe('Hi 2');
  });
});

// The same templates rendered by the real Python Jinja2 (SandboxedEnvironment, trim_blocks, keep_trailing_newline).
describe('agreement with Python Jinja2', () => {
  const run = pythonJinjaAvailable ? it : it.skip;
  if (!pythonJinjaAvailable) it.todo('skipped: python3 with jinja2 is not importable on this machine');
  run('every render case renders identically in Python', () => {
    const results = renderWithPython(RENDER_CASES.map((c) => ({ template: c.template, vars: c.vars, chat: c.chat })));
    RENDER_CASES.forEach((c, i) => {
      const py = results[i]!;
      const ours = (() => {
        try {
          return { ok: true as const, text: render(c.template, c.vars, c.chat) };
        } catch (err) {
          const e = err as JinjaTemplateError;
          return { ok: false as const, type: e.pyType, message: e.reason };
        }
      })();
      expect({ case: c.name, ...ours }).toEqual({ case: c.name, ...py });
    });
  });
});

import { renderJUnit } from '../../src/shared/report/junit.js';
import { sampleResults } from './sample.js';

interface Element {
  name: string;
  attrs: Record<string, string>;
  children: Element[];
  text: string;
}

/** A tiny XML reader: enough to check well-formedness (balanced tags, legal escapes) and read structure back. */
function parseXml(xml: string): Element {
  const body = xml.replace(/^<\?xml[^>]*\?>\s*/, '');
  const root: Element = { name: '#root', attrs: {}, children: [], text: '' };
  const stack: Element[] = [root];
  const token = /<(\/?)([A-Za-z][\w.-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while ((m = token.exec(body))) {
    at = token.lastIndex;
    const [, closing, name, rawAttrs, selfClosing, text] = m;
    const top = stack[stack.length - 1];
    if (text !== undefined) {
      expect(text).not.toMatch(/&(?!(amp|lt|gt|quot|apos|#\d+);)/);
      top.text += decode(text);
    } else if (closing) {
      expect(top.name).toBe(name);
      stack.pop();
    } else {
      const attrs: Record<string, string> = {};
      for (const a of rawAttrs.matchAll(/([\w:-]+)="([^"]*)"/g)) {
        expect(a[2]).not.toMatch(/&(?!(amp|lt|gt|quot|apos|#\d+);)/);
        attrs[a[1]] = decode(a[2]);
      }
      const el: Element = { name, attrs, children: [], text: '' };
      top.children.push(el);
      if (!selfClosing) stack.push(el);
    }
  }
  expect(at).toBe(body.length);
  expect(stack).toHaveLength(1);
  expect(root.children).toHaveLength(1);
  return root.children[0];
}

function decode(s: string): string {
  return s
    .replace(/&#(\d+);/g, (_, d) => String.fromCharCode(Number(d)))
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

const cases = (suite: Element) => suite.children.filter((c) => c.name === 'testcase');

describe('JUnit XML', () => {
  const doc = parseXml(renderJUnit(sampleResults()));
  const suites = doc.children.filter((c) => c.name === 'testsuite');
  const suite = (name: string) => suites.find((s) => s.attrs.name === name)!;

  it('groups gates per evaluator, gates without one in "gates", then failed lines and runs', () => {
    expect(doc.name).toBe('testsuites');
    expect(suites.map((s) => s.attrs.name)).toEqual(['eval_accuracy', 'gates', 'lines', 'runs']);
    expect(doc.attrs).toMatchObject({ tests: '9', failures: '2', errors: '0', skipped: '1' });
  });

  it('makes a failed gate a <failure>, a skipped gate <skipped/>, a passed gate a plain test case', () => {
    const gates = cases(suite('eval_accuracy'));
    expect(suite('eval_accuracy').attrs).toMatchObject({
      tests: '3',
      failures: '1',
      skipped: '1',
      timestamp: '2025-02-10T14:03:07',
    });
    const failed = gates.find((c) => c.attrs.name === 'accuracy at least 0.65 [summarize_text_content.variant_1]')!;
    expect(failed.attrs.classname).toBe('web_classification.eval_accuracy');
    const failure = failed.children.find((c) => c.name === 'failure')!;
    expect(failure.attrs.message).toBe('accuracy 0.63 < 0.65');
    expect(failure.text).toContain('Observed: 0.63\nThreshold: ≥ 0.65');
    const skipped = gates.find((c) => c.attrs.name.startsWith('no drop'))!;
    expect(skipped.children.map((c) => c.name)).toEqual(['skipped', 'system-out']);
    const passed = gates.find((c) => c.attrs.name.startsWith('accuracy at least 0.6 '))!;
    expect(passed.children.some((c) => c.name === 'failure' || c.name === 'skipped')).toBe(false);
    expect(cases(suite('gates')).map((c) => c.attrs.name)).toEqual([
      'failed lines at most 10% [summarize_text_content.variant_1]',
    ]);
  });

  it('reports each failed line as a failing test case with its error', () => {
    const [line] = cases(suite('lines'));
    expect(line.attrs).toMatchObject({
      name: 'line 2 [summarize_text_content.variant_1]',
      classname: 'web_classification.lines.web_train',
    });
    expect(line.children[0].attrs.message).toBe(
      'ServiceError: Connection timed out after 3 retries <script>x</script>',
    );
    expect(line.children[0].text).toContain('"url":"https://example.com/web_train/2"');
  });

  it('caps failed-line cases and can leave them out', () => {
    const r = sampleResults();
    const failed = r.lines.find((l) => l.error)!;
    for (let i = 0; i < 30; i++) r.lines.push({ ...failed, lineNumber: 50 + i });
    const capped = parseXml(renderJUnit(r, { maxLineCases: 10 }));
    const lines = capped.children.find((s) => s.attrs.name === 'lines')!;
    expect(cases(lines)).toHaveLength(10);
    expect(lines.children.find((c) => c.name === 'system-out')!.text).toContain('21 more failed lines');
    const none = parseXml(renderJUnit(r, { failedLines: 'none' }));
    expect(none.children.map((s) => s.attrs.name)).not.toContain('lines');
  });

  it('escapes markup and quotes and drops characters XML cannot hold', () => {
    const r = sampleResults();
    r.gates[1].name = 'gate <b>"quoted"</b> & \'single\'';
    r.gates[1].message = 'bad\u0001 value < 0.65\nsecond line \uD800';
    const xml = renderJUnit(r);
    const doc2 = parseXml(xml);
    const gate = cases(doc2.children[0]).find((c) => c.attrs.name.startsWith('gate <b>'))!;
    expect(gate.attrs.name).toBe('gate <b>"quoted"</b> & \'single\' [summarize_text_content.variant_1]');
    expect(gate.children[0].attrs.message).toBe('bad value < 0.65\nsecond line ');
    expect(xml).not.toContain('\u0001');
  });
});

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadFlow, materializeFlow, type DagFlow } from '../../src/shared/flow/index.js';
import { FIXTURES, problemsOf, writeFlow } from './helpers.js';

describe('additional_includes (§1.11)', () => {
  const flow = loadFlow(join(FIXTURES, 'good', 'with-includes'), { displayBase: FIXTURES }) as DagFlow;

  test('source paths are found in included files and folders at load time', () => {
    const byName = Object.fromEntries(flow.nodes.map((n) => [n.name, n.source?.resolvedPath]));
    expect(byName).toEqual({
      clean: join(FIXTURES, 'good/shared-assets/common.py'),
      summarize: join(FIXTURES, 'good/shared-assets/templates/summarize.jinja2'),
    });
  });

  test('materializeFlow copies the flow folder and each include by base name, folders recursively', () => {
    const m = materializeFlow(flow);
    try {
      expect(m.temporary).toBe(true);
      expect(m.workingDir).not.toBe(flow.workingDir);
      expect(readFileSync(join(m.workingDir, 'own.txt'), 'utf8')).toBe('own\n');
      expect(existsSync(join(m.workingDir, 'flow.dag.yaml'))).toBe(true);
      expect(existsSync(join(m.workingDir, 'common.py'))).toBe(true);
      expect(readFileSync(join(m.workingDir, 'templates/nested/deep.txt'), 'utf8')).toBe('deep\n');
      expect(m.warnings).toEqual([]);
    } finally {
      m.dispose();
    }
    expect(existsSync(m.workingDir)).toBe(false);
  });

  test('is a no-op for flows without includes', () => {
    const plain = loadFlow(join(FIXTURES, 'good', 'conditional'));
    const m = materializeFlow(plain);
    expect(m).toMatchObject({ workingDir: plain.workingDir, temporary: false });
  });

  test('an included file wins over the flow folder file of the same name, and duplicates warn', () => {
    const dir = writeFlow({
      'flow/flow.dag.yaml':
        'nodes:\n- name: a\n  type: prompt\n  source: {type: code, path: t.jinja2}\nadditional_includes: [../one/t.jinja2, ../two/t.jinja2]\n',
      'flow/t.jinja2': 'own',
      'one/t.jinja2': 'one',
      'two/t.jinja2': 'two',
    });
    const f = loadFlow(join(dir, 'flow'), { displayBase: dir }) as DagFlow;
    expect(f.nodes[0].source?.resolvedPath).toBe(join(dir, 'two/t.jinja2'));
    const m = materializeFlow(f);
    try {
      expect(readFileSync(join(m.workingDir, 't.jinja2'), 'utf8')).toBe('two');
      expect(m.warnings.map((w) => `${w.file}:${w.line}:${w.column}: ${w.message}`)).toEqual([
        'flow/flow.dag.yaml:5:40: additional_includes: found "../two/t.jinja2" with the same name as "../one/t.jinja2"; the later entry overwrites the earlier one',
      ]);
    } finally {
      m.dispose();
    }
  });

  test('a missing include is a load error at its position', () => {
    const dir = writeFlow({ 'flow.dag.yaml': 'nodes: []\nadditional_includes:\n- ../nowhere/common.py\n' });
    expect(problemsOf(() => loadFlow(dir, { displayBase: dir }))).toEqual([
      'flow.dag.yaml:3:3: additional_includes: found "../nowhere/common.py", but no such file or folder exists; expected a path relative to the flow folder or absolute',
    ]);
  });
});

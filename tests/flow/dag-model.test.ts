import { join } from 'node:path';
import { loadFlow, resolveFlowPath, type DagFlow } from '../../src/shared/flow/index.js';
import { FIXTURES, problemsOf, pyNode, writeFlow } from './helpers.js';

const loadDag = (name: string, options = {}) =>
  loadFlow(join(FIXTURES, 'good', name), { displayBase: FIXTURES, ...options }) as DagFlow;

describe('a web-classification-like flow', () => {
  const flow = loadDag('web-classification');

  test('declares typed inputs and outputs with parsed references', () => {
    expect(flow.kind).toBe('dag');
    expect(flow.name).toBe('web_classification');
    expect(flow.inputs.url).toMatchObject({
      type: 'string',
      hasDefault: true,
      isChatInput: false,
      at: { file: 'good/web-classification/flow.dag.yaml', line: 3, column: 3 },
    });
    expect(flow.outputs.category.reference).toEqual({
      kind: 'reference',
      ref: {
        kind: 'node',
        node: 'convert_to_dict',
        section: 'output',
        property: 'category',
        path: ['category'],
        text: '${convert_to_dict.output.category}',
      },
      at: { file: 'good/web-classification/flow.dag.yaml', line: 9, column: 16 },
    });
  });

  test('applies the default variants and keeps every variant', () => {
    expect(flow.selection).toEqual({ classify_with_llm: 'variant_1', summarize_text_content: 'variant_0' });
    const classify = flow.nodes.find((n) => n.name === 'classify_with_llm')!;
    expect(classify).toMatchObject({
      type: 'llm',
      useVariants: true,
      variantId: 'variant_1',
      connection: 'open_ai_connection',
      api: 'chat',
    });
    expect(classify.inputs.deployment_name).toMatchObject({ kind: 'literal', value: 'gpt-4' });
    expect(classify.source?.resolvedPath).toBe(join(FIXTURES, 'good/web-classification/classify_with_llm.jinja2'));
    expect(flow.nodeVariants.classify_with_llm.variantIds).toEqual(['variant_0', 'variant_1', 'variant_2']);
    expect(flow.nodeVariants.summarize_text_content.variants.variant_1.inputs.max_tokens).toMatchObject({
      kind: 'literal',
      value: '256',
    });
  });

  test('orders nodes by their references although consumers are listed first', () => {
    expect(flow.order).toEqual([
      'fetch_text_content_from_url',
      'summarize_text_content',
      'prepare_examples',
      'classify_with_llm',
      'convert_to_dict',
    ]);
  });

  test('warns (does not fail) about an llm variant without a connection, unless the run supplies one', () => {
    expect(flow.warnings.map((w) => `${w.line}: ${w.message}`)).toEqual([
      '99: node "classify_with_llm" (variant variant_2) (type llm): found no connection, expected one in the flow or supplied by the run (connections.classify_with_llm.connection)',
    ]);
    expect(
      loadDag('web-classification', { connections: { classify_with_llm: { connection: 'aoai' } } }).warnings,
    ).toEqual([]);
  });
});

describe('activate chains and aggregation', () => {
  const flow = loadDag('conditional');

  test('parses activate conditions, aggregation and its legacy alias reduce', () => {
    const llm = flow.nodes.find((n) => n.name === 'llm_answer')!;
    expect(llm.activate).toMatchObject({
      is: true,
      when: { kind: 'reference', ref: { kind: 'node', node: 'content_safety_check' } },
    });
    expect(flow.nodes.filter((n) => n.aggregation).map((n) => n.name)).toEqual(['average', 'report']);
    expect(flow.inputs.chat_history).toMatchObject({ isChatHistory: true, hasDefault: true, default: [] });
  });

  test('orders activate dependencies before their nodes', () => {
    expect(flow.order).toEqual([
      'content_safety_check',
      'llm_answer',
      'default_answer',
      'generate_result',
      'average',
      'report',
    ]);
  });

  test('drops an output that references an aggregation node, with a warning', () => {
    expect(Object.keys(flow.outputs)).toEqual(['answer']);
    expect(flow.warnings.map((w) => `${w.line}:${w.column}: ${w.message}`)).toEqual([
      '15:16: output "score": found ${average.output}, a reference to aggregation node "average"; such outputs are dropped (aggregation nodes do not run per line)',
    ]);
  });
});

describe('topological order (§1.8)', () => {
  const orderOf = (nodes: string) => {
    const dir = writeFlow({ 'a.py': '', 'flow.dag.yaml': `inputs:\n  q: {type: string}\nnodes:\n${nodes}` });
    return (loadFlow(dir) as DagFlow).order;
  };

  test('a chain written backwards runs forwards', () => {
    expect(
      orderOf(
        pyNode('c', "{x: '${b.output}'}") + pyNode('b', "{x: '${a.output}'}") + pyNode('a', "{x: '${inputs.q}'}"),
      ),
    ).toEqual(['a', 'b', 'c']);
  });

  test('is stable: each step picks the first node in YAML order whose dependencies are done', () => {
    const nodes =
      pyNode('join', "{x: '${left.output}', y: '${right.output}'}") +
      pyNode('right', "{x: '${inputs.q}'}") +
      pyNode('left', "{x: '${right.output}'}") +
      pyNode('solo', '{}');
    expect(orderOf(nodes)).toEqual(['right', 'left', 'join', 'solo']);
  });

  test('activate.when counts as a dependency; property paths do not change the node', () => {
    const nodes =
      pyNode('gate', "{x: '${inputs.q}'}", "  activate: {when: '${check.output.ok}', is: true}\n") +
      pyNode('check', "{x: '${inputs.q}'}");
    expect(orderOf(nodes)).toEqual(['check', 'gate']);
  });

  test('a self reference is a cycle', () => {
    const dir = writeFlow({ 'a.py': '', 'flow.dag.yaml': `nodes:\n${pyNode('me', "{x: '${me.output}'}")}` });
    expect(problemsOf(() => loadFlow(dir, { displayBase: dir }))).toEqual([
      'flow.dag.yaml:2:9: found a circular dependency among nodes me; expected node references (inputs and activate.when) without cycles',
    ]);
  });
});

describe('resolveFlowPath (§0)', () => {
  test('decides flex vs dag by content, not by file name', () => {
    const dir = writeFlow({ 'flow.dag.yaml': 'entry: app:main\ncode: src\n', 'src/app.py': '' });
    expect(resolveFlowPath(dir)).toEqual({
      kind: 'flex',
      file: join(dir, 'flow.dag.yaml'),
      workingDir: join(dir, 'src'),
    });
  });

  test('accepts any .yaml/.yml/.prompty file and a folder with one .prompty', () => {
    const dir = writeFlow({ 'my-flow.yml': 'nodes: []\n', 'only.prompty': '---\n---\n' });
    expect(resolveFlowPath(join(dir, 'my-flow.yml')).kind).toBe('dag');
    expect(resolveFlowPath(dir)).toEqual({ kind: 'prompty', file: join(dir, 'only.prompty'), workingDir: dir });
  });

  test('rejects other files and folders with several prompty files', () => {
    const dir = writeFlow({ 'flow.json': '{}', 'a.prompty': '', 'b.prompty': '' });
    expect(problemsOf(() => resolveFlowPath(join(dir, 'flow.json'), dir))).toEqual([
      'flow.json: found a file that is not a flow file, expected a name ending with .yaml, .yml, .prompty',
    ]);
    expect(problemsOf(() => resolveFlowPath(dir, dir))[0]).toContain(
      'found several .prompty files (a.prompty, b.prompty)',
    );
  });
});

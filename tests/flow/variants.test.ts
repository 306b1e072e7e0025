import { join } from 'node:path';
import { applyVariant, loadFlow, parseVariantSpec, planVariants, type DagFlow } from '../../src/shared/flow/index.js';
import { FIXTURES, problemsOf, pyNode, writeFlow } from './helpers.js';

const web = () => loadFlow(join(FIXTURES, 'good', 'web-classification'), { displayBase: FIXTURES }) as DagFlow;
const at = { file: 'experiment.yaml', line: 12, column: 5 };

describe('applyVariant', () => {
  test('swaps the chosen variant body in, keeps the name, defaults elsewhere', () => {
    const flow = applyVariant(web(), { summarize_text_content: 'variant_1' });
    const node = flow.nodes.find((n) => n.name === 'summarize_text_content')!;
    expect(node).toMatchObject({
      variantId: 'variant_1',
      source: { path: 'summarize_text_content__variant_1.jinja2' },
    });
    expect(node.inputs.max_tokens).toMatchObject({ value: '256' });
    expect(flow.selection).toEqual({ classify_with_llm: 'variant_1', summarize_text_content: 'variant_1' });
  });

  test('does not change the flow it was given', () => {
    const flow = web();
    applyVariant(flow, { classify_with_llm: 'variant_0' });
    expect(flow.nodes.find((n) => n.name === 'classify_with_llm')!.variantId).toBe('variant_1');
  });

  test('recomputes the order when a variant changes the dependencies', () => {
    const flow = applyVariant(web(), { classify_with_llm: 'variant_2' }); // variant_2 does not use prepare_examples
    expect(flow.order).toEqual([
      'fetch_text_content_from_url',
      'summarize_text_content',
      'classify_with_llm',
      'convert_to_dict',
      'prepare_examples',
    ]);
  });

  test('rejects an unknown node or variant, at the place the selection was written', () => {
    expect(
      problemsOf(() => applyVariant(web(), { summarize: 'variant_1', classify_with_llm: 'variant_7' }, at)),
    ).toEqual([
      'experiment.yaml:12:5: variant selection: found node "summarize", expected a node with use_variants: true, one of: classify_with_llm, summarize_text_content',
      'experiment.yaml:12:5: variant selection for node "classify_with_llm": found "variant_7", expected one of: variant_0, variant_1, variant_2',
    ]);
  });

  test('without an origin, an unknown variant points at the node_variants entry', () => {
    expect(problemsOf(() => applyVariant(web(), { classify_with_llm: 'nope' }))).toEqual([
      'good/web-classification/flow.dag.yaml:68:3: variant selection for node "classify_with_llm": found "nope", expected one of: variant_0, variant_1, variant_2',
    ]);
  });
});

describe('parseVariantSpec', () => {
  test('reads ${node.variant_id}', () => {
    expect(parseVariantSpec('${summarize_text_content.variant_1}')).toEqual({
      node: 'summarize_text_content',
      variantId: 'variant_1',
    });
  });
  test('rejects other forms', () => {
    expect(problemsOf(() => parseVariantSpec('summarize.variant_1', at))).toEqual([
      'experiment.yaml:12:5: found "summarize.variant_1", expected a variant in the form ${<node>.<variant_id>}',
    ]);
  });
});

describe('planVariants', () => {
  // web-classification: summarize has 2 variants, classify has 3.
  test('defaults: one combination', () => {
    expect(planVariants(web(), 'defaults')).toEqual([
      {
        id: 'default',
        selection: { classify_with_llm: 'variant_1', summarize_text_content: 'variant_0' },
        spec: '${classify_with_llm.variant_1}',
      },
    ]);
  });

  test('one_at_a_time: defaults first, then each non-default variant alone — 1 + Σ(nᵢ − 1)', () => {
    const plan = planVariants(web(), 'one_at_a_time');
    expect(plan.length).toBe(1 + (3 - 1) + (2 - 1));
    expect(plan.map((c) => [c.id, c.spec])).toEqual([
      ['default', '${classify_with_llm.variant_1}'],
      ['classify_with_llm.variant_0', '${classify_with_llm.variant_0}'],
      ['classify_with_llm.variant_2', '${classify_with_llm.variant_2}'],
      ['summarize_text_content.variant_1', '${summarize_text_content.variant_1}'],
    ]);
    expect(plan[3].selection).toEqual({ classify_with_llm: 'variant_1', summarize_text_content: 'variant_1' });
  });

  test('cartesian: every combination once — Π nᵢ, all-defaults first', () => {
    const plan = planVariants(web(), 'cartesian');
    expect(plan.length).toBe(3 * 2);
    expect(new Set(plan.map((c) => c.id)).size).toBe(6);
    expect(plan[0].id).toBe('default');
    expect(plan.map((c) => c.id)).toContain('classify_with_llm.variant_2+summarize_text_content.variant_1');
    expect(
      plan.find((c) => c.id === 'classify_with_llm.variant_2+summarize_text_content.variant_1')!.spec,
    ).toBeUndefined();
  });

  test('an explicit list of maps and ${node.variant} strings', () => {
    const plan = planVariants(web(), {
      list: [
        '${summarize_text_content.variant_1}',
        { classify_with_llm: 'variant_0', summarize_text_content: 'variant_1' },
        {},
      ],
    });
    expect(plan.map((c) => c.id)).toEqual([
      'summarize_text_content.variant_1',
      'classify_with_llm.variant_0+summarize_text_content.variant_1',
      'default',
    ]);
  });

  test('an explicit list with unknown variants or repeats is rejected, every item at once', () => {
    expect(
      problemsOf(() =>
        planVariants(
          web(),
          {
            list: [
              '${summarize_text_content.variant_1}',
              '${classify_with_llm.variant_9}',
              { summarize_text_content: 'variant_1' },
              'oops',
            ],
          },
          at,
        ),
      ),
    ).toEqual([
      'experiment.yaml:12:5: variant list item 2: variant selection for node "classify_with_llm": found "variant_9", expected one of: variant_0, variant_1, variant_2',
      'experiment.yaml:12:5: variant list item 3: found combination summarize_text_content.variant_1 again (item 1), expected each combination once',
      'experiment.yaml:12:5: variant list item 4: found "oops", expected a variant in the form ${<node>.<variant_id>}',
    ]);
  });

  test('flows without variants run once; flex and prompty flows accept only defaults', () => {
    const dir = writeFlow({ 'a.py': '', 'flow.dag.yaml': `nodes:\n${pyNode('a', '{}')}` });
    expect(planVariants(loadFlow(dir), 'one_at_a_time')).toEqual([{ id: 'default', selection: {} }]);
    const flex = loadFlow(join(FIXTURES, 'good', 'flex-function'), { displayBase: FIXTURES });
    expect(planVariants(flex, 'defaults')).toEqual([{ id: 'default', selection: {} }]);
    expect(problemsOf(() => planVariants(flex, 'cartesian', at))).toEqual([
      'experiment.yaml:12:5: found variant plan "cartesian" for a flex flow, expected "defaults" (only DAG flows have variants)',
    ]);
  });

  test('a variant that breaks the graph is reported at load time', () => {
    const dir = writeFlow({
      'a.py': '',
      'flow.dag.yaml': `nodes:\n${pyNode('a', '{}')}- name: b\n  use_variants: true\nnode_variants:\n  b:\n    default_variant_id: v0\n    variants:\n      v0: {node: {type: python, source: {type: code, path: a.py}, inputs: {x: '\${a.output}'}}}\n      v1: {node: {type: python, source: {type: code, path: a.py}, inputs: {x: '\${z.output}'}}}\n`,
    });
    expect(problemsOf(() => loadFlow(dir, { displayBase: dir }))).toEqual([
      'flow.dag.yaml:13:79: node "b" (variant v1) input "x": found ${z.output}, but there is no node "z"; expected one of: a, b',
    ]);
  });
});

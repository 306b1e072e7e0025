import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { validateResults } from '../../src/shared/report/schema.js';
import { sampleResults } from './sample.js';

type Schema = {
  properties?: Record<string, Schema>;
  required?: string[];
  $ref?: string;
  description?: string;
  definitions?: Record<string, Schema>;
  items?: Schema;
};
const root = JSON.parse(readFileSync('schemas/results.schema.json', 'utf8')) as Schema;

function resolve(s: Schema): Schema {
  return s.$ref ? root.definitions![s.$ref.replace('#/definitions/', '')] : s;
}

describe('results schema', () => {
  it('accepts a full realistic sample', () => {
    expect(validateResults(sampleResults())).toEqual([]);
  });

  it('names the path of each problem', () => {
    const r = sampleResults();
    delete (r.runs[0].tokens as Partial<(typeof r.runs)[0]['tokens']>).total;
    (r.gates[1] as { status: string }).status = 'broken';
    (r.lines[0] as unknown as Record<string, unknown>).extra = 1;
    r.comparisons[0].ciLow = null; // allowed
    expect(validateResults(r)).toEqual(
      expect.arrayContaining([
        '/runs/0/tokens: missing required key "total"',
        '/gates/1/status: expected one of "passed", "failed", "skipped"',
        '/lines/0: unknown key "extra"',
      ]),
    );
    expect(validateResults(r)).toHaveLength(3);
    expect(validateResults({ schemaVersion: 2 })[0]).toMatch(/^\/: missing required key|^\/schemaVersion/);
  });

  it('describes every field', () => {
    const missing: string[] = [];
    const visit = (s: Schema, at: string) => {
      for (const [key, child] of Object.entries(s.properties ?? {})) {
        if (!child.description) missing.push(`${at}.${key}`);
        visit(child, `${at}.${key}`);
      }
    };
    visit(root, '$');
    for (const [name, def] of Object.entries(root.definitions!)) visit(def, name);
    expect(missing).toEqual([]);
  });

  /** Reads model.ts with the TypeScript compiler and checks every interface against its schema object. */
  it('has exactly the fields of model.ts, required where the model requires them', () => {
    const source = ts.createSourceFile(
      'model.ts',
      readFileSync('src/shared/results/model.ts', 'utf8'),
      ts.ScriptTarget.ES2022,
      true,
    );
    const interfaces = new Map<string, ts.InterfaceDeclaration>();
    source.forEachChild((n) => {
      if (ts.isInterfaceDeclaration(n)) interfaces.set(n.name.text, n); // a truthy return would stop forEachChild
    });
    const schemaOf: Record<string, Schema> = {
      Results: root,
      VariantInfo: root.definitions!.variant,
      DatasetInfo: root.definitions!.dataset,
      TokenUsage: root.definitions!.tokens,
      RunResult: root.definitions!.run,
      EvaluationResult: root.definitions!.evaluation,
      IntervalSummary: root.definitions!.interval,
      MetricResult: root.definitions!.metric,
      RepeatedSummary: root.definitions!.repeated,
      ComparisonResult: root.definitions!.comparison,
      GateResult: root.definitions!.gate,
      GateEarlyStop: root.definitions!.gateEarlyStop,
      LineResult: root.definitions!.line,
    };
    // An interface only extended by others (a shape shared with the statistics) has no schema object of its own:
    // its fields are checked in every interface that extends it.
    const baseNames = (d: ts.InterfaceDeclaration) =>
      (d.heritageClauses ?? []).flatMap((h) => h.types.map((t) => t.expression.getText(source)));
    const bases = new Set([...interfaces.values()].flatMap(baseNames));
    const membersOf = (d: ts.InterfaceDeclaration): ts.TypeElement[] => [
      ...baseNames(d).flatMap((b) => membersOf(interfaces.get(b)!)),
      ...d.members,
    ];
    expect([...interfaces.keys()].filter((n) => !bases.has(n)).sort()).toEqual(Object.keys(schemaOf).sort());
    const shape = (members: readonly ts.TypeElement[]) =>
      members
        .filter(ts.isPropertySignature)
        .map((m) => ({ name: (m.name as ts.Identifier).text, optional: !!m.questionToken, type: m.type }));
    const compare = (where: string, members: readonly ts.TypeElement[], schema: Schema) => {
      const props = shape(members);
      expect({ where, keys: Object.keys(schema.properties ?? {}).sort() }).toEqual({
        where,
        keys: props.map((p) => p.name).sort(),
      });
      expect({ where, required: [...(schema.required ?? [])].sort() }).toEqual({
        where,
        required: props
          .filter((p) => !p.optional)
          .map((p) => p.name)
          .sort(),
      });
      for (const p of props)
        if (p.type && ts.isTypeLiteralNode(p.type))
          compare(`${where}.${p.name}`, p.type.members, resolve(schema.properties![p.name]));
    };
    for (const [name, decl] of interfaces) if (!bases.has(name)) compare(name, membersOf(decl), schemaOf[name]);
  });
});

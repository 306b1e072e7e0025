/** The docker build context: structure, variant applied, includes merged, secrets templated, Dockerfile contract. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { writeBuildContext } from '../../src/shared/serve/index.js';

const out = mkdtempSync(path.join(os.tmpdir(), 'llmops-ctx-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

test('web_classification with variant_1: flow snapshot without node_variants, CLI, worker, templates, requirements', () => {
  const r = writeBuildContext({
    flow: 'examples/web_classification/flows/experiment',
    output: out,
    variants: ['${summarize_text_content.variant_1}'],
    connections: [
      {
        name: 'aoai',
        type: 'AzureOpenAIConnection',
        value: { api_base: 'https://x.openai.azure.com', api_key: 'sk-REAL-SECRET', api_version: '2024-02-01' },
        secretKeys: ['api_key'],
      },
    ],
  });
  expect(r.selection).toEqual({ summarize_text_content: 'variant_1' });
  expect(r.hasPython).toBe(true);
  expect(r.settings).toEqual(['AOAI_API_KEY']);
  for (const f of [
    'Dockerfile',
    'start.sh',
    'README.md',
    'settings.json',
    'requirements.txt',
    'app/dist/cli.js',
    'app/package.json',
    'app/src/shared/engine/python/worker.py',
    'flow/flow.dag.yaml',
    'flow/fetch_text_content_from_url.py',
    'flow/summarize_text_content__variant_1.jinja2',
    'connections/aoai.yaml',
  ]) {
    expect(existsSync(path.join(out, f))).toBe(true);
  }
  const dag = parse(readFileSync(path.join(out, 'flow/flow.dag.yaml'), 'utf8')) as {
    nodes: Array<Record<string, unknown>>;
    node_variants?: unknown;
  };
  expect(dag.node_variants).toBeUndefined();
  const summarize = dag.nodes.find((n) => n.name === 'summarize_text_content')!;
  expect(summarize).toMatchObject({ type: 'llm', source: { path: 'summarize_text_content__variant_1.jinja2' } });
  expect(summarize.use_variants).toBeUndefined();
  const conn = readFileSync(path.join(out, 'connections/aoai.yaml'), 'utf8');
  expect(parse(conn)).toEqual({
    name: 'aoai',
    type: 'azure_open_ai',
    api_base: 'https://x.openai.azure.com',
    api_key: '${env:AOAI_API_KEY}',
    api_version: '2024-02-01',
  });
  expect(JSON.parse(readFileSync(path.join(out, 'settings.json'), 'utf8'))).toEqual({ AOAI_API_KEY: '' });
  expect(readFileSync(path.join(out, 'requirements.txt'), 'utf8')).toBe(
    readFileSync('examples/web_classification/flows/experiment/requirements.txt', 'utf8'),
  );
  expect(readFileSync(path.join(out, 'start.sh'), 'utf8')).toContain(
    'exec node /app/dist/cli.js flow serve /flow --host 0.0.0.0 --port "${PORT:-8080}" --connections /connections',
  );
  // Nothing of the secret anywhere in the context.
  expect(readFileSync(path.join(out, 'README.md'), 'utf8') + conn).not.toContain('sk-REAL-SECRET');
  const dockerfile = readFileSync(path.join(out, 'Dockerfile'), 'utf8');
  // Every path the Dockerfile copies exists in the context.
  for (const m of dockerfile.matchAll(/^COPY (\S+) /gm)) expect(existsSync(path.join(out, m[1]))).toBe(true);
  expect(dockerfile).toMatch(/^EXPOSE 8080$/m);
  expect(dockerfile).toMatch(/^USER node$/m);
  expect(dockerfile).toMatch(/^ENTRYPOINT \["\/usr\/bin\/tini", "--", "\/start.sh"\]$/m);
});

test('additional_includes are merged into the snapshot, the key dropped, and the snapshot loads on its own', async () => {
  writeBuildContext({ flow: 'tests/flow/fixtures/good/with-includes', output: out });
  expect(existsSync(path.join(out, 'flow/common.py'))).toBe(true);
  expect(existsSync(path.join(out, 'flow/templates/summarize.jinja2'))).toBe(true);
  const dag = parse(readFileSync(path.join(out, 'flow/flow.dag.yaml'), 'utf8')) as Record<string, unknown>;
  expect(dag.additional_includes).toBeUndefined();
  const { loadFlow } = await import('../../src/shared/flow/index.js');
  expect(loadFlow(path.join(out, 'flow')).kind).toBe('dag');
  // No connections: an empty folder is still there for the Dockerfile's COPY, and start.sh does not pass it.
  expect(existsSync(path.join(out, 'connections/.keep'))).toBe(true);
  expect(readFileSync(path.join(out, 'start.sh'), 'utf8')).not.toContain('--connections');
});

/**
 * A use case whose flow uses package tools, through the CLI's bulk-run: SerpAPI (natively, against a loopback
 * stand-in named by the connection's api_base in experiment.yaml) feeding a tool of a package installed on
 * PYTHONPATH (through the worker). The run store says Completed with every line's outputs; the key is never printed.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeUseCase } from '../../helpers/use-case-dir.js';

const FIX = path.resolve('tests/engine/package-tools/fixtures');
const SECRET = 'serp-SECRET-4321';

const experiment = `name: search
flow: flows/std
connections:
  - name: serp
    connection_type: SerpConnection
    api_key: \${api_key}
    api_base: \${api_base}
datasets:
  - name: train
    source: data/train.jsonl
    mappings:
      question: \${data.question}
`;

const flow = `inputs:
  question:
    type: string
outputs:
  answer:
    type: string
    reference: \${shout.output}
nodes:
- name: search
  type: python
  source:
    type: package
    tool: promptflow.tools.serpapi.SerpAPI.search
  inputs:
    connection: serp
    query: \${inputs.question}
    num: 1
- name: shout
  type: python
  source:
    type: package
    tool: acme_tools.tools.greet.greet
  inputs:
    name: \${search.output.organic_results[0].title}
    style: shout
`;

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (out += chunk));
    child.on('exit', (status) => resolve({ status, out }));
  });
}

test('bulk-run of a flow with a native HTTP package tool and an installed tool package', async () => {
  const queries: string[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    queries.push(`${url.searchParams.get('q')}|${url.searchParams.get('api_key') === SECRET}`);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ organic_results: [{ title: `top hit for ${url.searchParams.get('q')}` }] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const site = mkdtempSync(path.join(tmpdir(), 'llmops-site-'));
  cpSync(path.join(FIX, 'acme_tools_src'), site, { recursive: true });
  mkdirSync(path.join(site, 'acme_tools-0.1.0.dist-info'));
  writeFileSync(
    path.join(site, 'acme_tools-0.1.0.dist-info/METADATA'),
    'Metadata-Version: 2.1\nName: acme-tools\nVersion: 0.1.0\n',
  );
  writeFileSync(
    path.join(site, 'acme_tools-0.1.0.dist-info/entry_points.txt'),
    '[package_tools]\nacme = acme_tools.listing:list_package_tools\n',
  );
  const data = ['alpha', 'beta', 'gamma'].map((q) => JSON.stringify({ question: q })).join('\n') + '\n';
  const uc = makeUseCase({
    'experiment.yaml': experiment,
    'flows/std/flow.dag.yaml': flow,
    'data/train.jsonl': data,
    'flows/eval/flow.dag.yaml': null,
  });
  const env = {
    ...process.env,
    SERP_API_KEY: SECRET,
    SERP_API_BASE: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    PYTHONPATH: site,
  };
  try {
    const store = path.join(uc.dir, '.llmops');
    const r = await runCli(
      ['dist/cli.js', 'bulk-run', '--config', path.join(uc.dir, 'experiment.yaml'), '--store', store],
      env,
    );
    expect(r.out).not.toContain(SECRET);
    expect(r.status).toBe(0);
    expect(queries.sort()).toEqual(['alpha|true', 'beta|true', 'gamma|true']);
    const runs = JSON.parse(readFileSync(path.join(store, 'experiments/search/runs.json'), 'utf8')) as {
      runs: Array<{ runId: string }>;
    };
    const runDir = path.join(store, 'runs', runs.runs[0].runId);
    const run = JSON.parse(readFileSync(path.join(runDir, 'run.json'), 'utf8')) as { status: string };
    expect(run.status).toBe('Completed');
    const records = readFileSync(path.join(runDir, 'outputs.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { line_number: number; outputs: unknown });
    expect(records.sort((a, b) => a.line_number - b.line_number).map((x) => x.outputs)).toEqual([
      { answer: 'HELLO TOP HIT FOR ALPHA' },
      { answer: 'HELLO TOP HIT FOR BETA' },
      { answer: 'HELLO TOP HIT FOR GAMMA' },
    ]);
  } finally {
    uc.cleanup();
    await new Promise((r) => server.close(r));
  }
});

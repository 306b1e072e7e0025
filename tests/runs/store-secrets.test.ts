/**
 * A connection key quoted by the user's code — in an exception message, in an output — never reaches the run store,
 * which pipelines upload as an artifact: every record, run.json and error.json hold *** in its place.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection } from '../../src/shared/config/connections.js';
import { runBatch } from '../../src/shared/runs/index.js';

const key = 'sk-LEAKED-1234567890';

test("a key in a failed line's exception and in an output is masked in every file of the run", async () => {
  const store = mkdtempSync(join(tmpdir(), 'llmops-store-secrets-'));
  try {
    const data = join(store, 'data.jsonl');
    writeFileSync(data, '{"q": "ok"}\n{"q": "fail"}\n');
    const flowDir = join(store, 'flow');
    mkdirSync(flowDir);
    writeFileSync(
      join(flowDir, 'flow.dag.yaml'),
      'inputs:\n  q: {type: string}\noutputs:\n  out: {type: string, reference: "${leak.output}"}\nnodes:\n- name: leak\n  type: python\n  source: {type: code, path: leak.py}\n  inputs: {conn: aoai, q: "${inputs.q}"}\n',
    );
    writeFileSync(
      join(flowDir, 'leak.py'),
      [
        'from promptflow import tool',
        'from promptflow.connections import AzureOpenAIConnection',
        '',
        '@tool',
        'def leak(conn: AzureOpenAIConnection, q: str) -> str:',
        '    if q == "fail":',
        '        raise ValueError(f"the endpoint refused key {conn.api_key}")',
        '    return f"called with {conn.api_key}"',
        '',
      ].join('\n'),
    );
    const aoai: Connection = {
      name: 'aoai',
      type: 'AzureOpenAIConnection',
      value: { api_key: key, api_base: 'http://127.0.0.1:9', api_type: 'azure', api_version: '2024-02-01' },
      secretKeys: ['api_key'],
    };
    const s = await runBatch({ flow: flowDir, data, storeRoot: store, connections: [aoai], concurrency: 1 });
    expect(s.counts).toEqual({ total: 2, completed: 1, failed: 1 });
    const files = readdirSync(s.dir).filter((f) => f.endsWith('.json') || f.endsWith('.jsonl'));
    expect(files).toEqual(expect.arrayContaining(['outputs.jsonl', 'run.json', 'error.json']));
    const written = files.map((f) => readFileSync(join(s.dir, f), 'utf8')).join('\n');
    expect(written).not.toContain(key);
    const outputs = readFileSync(join(s.dir, 'outputs.jsonl'), 'utf8');
    expect(outputs).toContain('called with ***');
    expect(outputs).toContain('the endpoint refused key ***');
    expect(readFileSync(join(s.dir, 'error.json'), 'utf8')).toContain('refused key ***');
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
}, 60_000);

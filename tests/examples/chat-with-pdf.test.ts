/**
 * examples/chat_with_pdf through the whole lifecycle, as `npm run demo -- chat_with_pdf` runs it; its RAG metrics
 * against values computed by hand; its index built once per content hash; a missing Python package reported.
 * Its Python needs pypdf and hnswlib from Debian (scripts/setup-tests.sh): the interpreter that has them is used.
 */
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startModelServer } from '../../src/model-server/index.js';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { validateStep } from '../../src/shared/steps/validate.js';
import { metric, metricTable, runExample, runPullRequestPath, scoresByLine, type ExampleRun } from './run-example.js';

const EXAMPLE = 'examples/chat_with_pdf';
const python = ['/usr/bin/python3', 'python3'].find(
  (p) => spawnSync(p, ['-c', 'import pypdf, hnswlib'], { stdio: 'ignore' }).status === 0,
);
if (!python) throw new Error('chat_with_pdf needs pypdf and hnswlib: apt-get install python3-pypdf python3-hnswlib');

const work = mkdtempSync(path.join(os.tmpdir(), 'llmops-chat-with-pdf-'));
const saved = { python: process.env.LLMOPS_PYTHON, index: process.env.CHAT_WITH_PDF_INDEX_DIR };
process.env.LLMOPS_PYTHON = python;
process.env.CHAT_WITH_PDF_INDEX_DIR = path.join(work, 'index');
let run: ExampleRun;
beforeAll(async () => {
  run = await runExample('chat_with_pdf');
}, 90_000);
afterAll(() => {
  run?.cleanup();
  rmSync(work, { recursive: true, force: true });
  process.env.LLMOPS_PYTHON = saved.python;
  process.env.CHAT_WITH_PDF_INDEX_DIR = saved.index;
});

const handbook = (c: string) => `cycle_share_handbook.pdf#${c}`;
const greenhouse = (c: string) => `community_greenhouse_rules.pdf#${c}`;

test('validate → register-data → bulk-run → evaluate → report → deploy → smoke tests, in under a minute', () => {
  expect(run.log).not.toContain('internal error');
  expect(run.status).toBe(0);
  expect(run.log).toContain('examples/chat_with_pdf/experiment.yaml: valid');
  expect(run.log).toContain('chat_with_pdf_train: 9 rows');
  expect(run.log).toContain('demo: deploying the best variant (answer.variant_1) locally');
  expect(run.log).toMatch(/demo: http:\/\/127\.0\.0\.1:\d+\/score passed 4\/4 smoke tests/);
  expect(run.seconds).toBeLessThan(60);
  // Two bulk runs, two evaluations and the deployed server: one index, built once for these documents.
  expect(readdirSync(process.env.CHAT_WITH_PDF_INDEX_DIR!)).toEqual([expect.stringMatching(/^[0-9a-f]{32}$/)]);
});

test('retrieval at k = 3 per line, and precision and recall at k as computed by hand from the labels', () => {
  const results = run.results();
  const retrieved = results.lines
    .filter((l) => l.variantId === 'default')
    .sort((a, b) => a.lineNumber - b.lineNumber)
    .map((l) => (l.outputs!.context as { id: string }[]).map((c) => c.id));
  expect(retrieved[0]).toEqual([handbook('p1c0'), handbook('p1c1'), handbook('p1c2')]); // relevant: p1c0, p1c1
  expect(retrieved[5]).toEqual([greenhouse('p1c0'), greenhouse('p2c0'), handbook('p1c1')]); // relevant: p2c0
  expect(retrieved.map((ids) => ids[0])).toEqual([
    handbook('p1c0'),
    handbook('p2c0'),
    handbook('p2c2'),
    handbook('p2c1'),
    greenhouse('p1c1'),
    greenhouse('p1c0'),
    greenhouse('p2c1'),
    greenhouse('p1c0'),
    greenhouse('p1c3'),
  ]);
  // Line 0: 2 of the 3 retrieved are relevant, both relevant found; every other line: its one relevant chunk
  // among the 3 retrieved.
  expect(scoresByLine(results, 'rag.precision_at_k')).toEqual([0.6667, ...Array(8).fill(0.3333)]);
  expect(scoresByLine(results, 'rag.recall_at_k')).toEqual(Array(9).fill(1));
  expect(metric(results, 'rag', 'precision_at_k').value).toBeCloseTo((2 / 3 + 8 / 3) / 9, 3);
  expect(metric(results, 'rag', 'recall_at_k').value).toBe(1);
  expect(metric(results, 'rag', 'precision_at_k').interval?.n).toBe(9);
});

test('groundedness: the loose prompt adds an unsupported sentence to three answers; the strict one does not', () => {
  const results = run.results();
  expect(scoresByLine(results, 'rag.groundedness')).toEqual([0.5, 1, 1, 0.5, 1, 1, 1, 0.5, 1]);
  expect(scoresByLine(results, 'rag.groundedness', 'answer.variant_1')).toEqual(Array(9).fill(1));
  const table = metricTable(results);
  expect(table['rag.groundedness [default]']).toBeCloseTo(7.5 / 9, 3);
  expect(table['rag.groundedness [answer.variant_1]']).toBe(1);
  for (const v of ['default', 'answer.variant_1']) {
    const relevance = metric(results, 'rag', 'answer_relevance', v).value;
    expect(relevance).toBeGreaterThan(0.3);
    expect(relevance).toBeLessThan(1);
  }
  const line2 = results.lines.find((l) => l.lineNumber === 2 && l.variantId === 'default')!.outputs!;
  expect(line2.citations).toEqual([handbook('p2c2')]);
  expect(line2.answer).toContain('450 euros');
  expect(results.gates.every((g) => g.status === 'passed')).toBe(true);
});

test('the metric functions on a small labelled set, against values computed by hand', () => {
  const script = `
import json, sys
sys.path.insert(0, "${EXAMPLE}/flows/evaluation")
from rag_metrics import precision_recall_at_k, groundedness
out = {
  "p2of3": precision_recall_at_k(["a", "b", "c"], ["a", "c", "d", "e"]),
  "none": precision_recall_at_k(["a", "b"], ["x"]),
  "dup": precision_recall_at_k(["a", "a", "b"], ["a"]),
  "unlabelled": precision_recall_at_k(["a"], []),
  "g": groundedness("Bikes cost 6 euros. The moon is made of cheese. No.", ["A day pass costs 6 euros for bikes."]),
  "g_none": groundedness("No.", ["anything"]),
}
print(json.dumps(out))`;
  const r = spawnSync(python, ['-c', script], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(JSON.parse(r.stdout)).toEqual({
    p2of3: [2 / 3, 2 / 4],
    none: [0, 0],
    dup: [0.5, 1], // a retrieved chunk counts once
    unlabelled: [0, null],
    g: 0.5, // "bikes cost 6 euros" grounded (bike/cost fold to the context's words), the moon is not; "No." is not judged
    g_none: 1,
  });
});

test('the index is built once per content hash: reused by a new process, rebuilt when a document changes', async () => {
  const server = await startModelServer({ seed: 1 });
  const docs = path.join(work, 'docs');
  cpSync(`${EXAMPLE}/flows/standard/documents`, docs, { recursive: true });
  const script = `
import json, sys
sys.path.insert(0, "${EXAMPLE}/flows/standard")
from pdf_index import load_or_build
class Connection:
    api_base, api_key, api_type, api_version = "${server.url}", "k", "azure", "2024-02-01"
index, chunks, key, built = load_or_build(Connection, "text-embedding-3-small", folder=sys.argv[1])
print(json.dumps({"key": key, "built": built, "chunks": len(chunks)}))`;
  const env = { ...process.env, CHAT_WITH_PDF_INDEX_DIR: path.join(work, 'index-2') };
  // Asynchronously: the model server answers from this process's event loop.
  const build = async () => {
    const r = await promisify(execFile)(python, ['-c', script, docs], { encoding: 'utf8', env });
    expect(r.stderr).toBe('');
    return JSON.parse(r.stdout) as { key: string; built: boolean; chunks: number };
  };
  try {
    const first = await build();
    expect(first).toMatchObject({ built: true, chunks: 13 });
    expect(await build()).toEqual({ ...first, built: false });
    // The committed PDFs are what scripts/make_pdfs.py writes, byte for byte: regenerated, nothing changes.
    expect(spawnSync(python, [`${EXAMPLE}/scripts/make_pdfs.py`, docs], { encoding: 'utf8' }).status).toBe(0);
    expect(await build()).toEqual({ ...first, built: false });
    for (const pdf of readdirSync(docs))
      expect(
        readFileSync(path.join(docs, pdf)).equals(readFileSync(`${EXAMPLE}/flows/standard/documents/${pdf}`)),
      ).toBe(true);
    rmSync(path.join(docs, 'cycle_share_handbook.pdf'));
    const second = await build();
    expect(second.built).toBe(true);
    expect(second.key).not.toBe(first.key);
    expect(second.chunks).toBe(7);
    expect(readdirSync(env.CHAT_WITH_PDF_INDEX_DIR).sort()).toEqual([first.key, second.key].sort());
  } finally {
    await server.close();
  }
}, 30_000);

test('python_requirements: check names the missing packages, the requirements line and the importing line', async () => {
  // The Debian interpreter without its site packages: pypdf, hnswlib and numpy are not importable.
  const bare = path.join(work, 'python-without-packages');
  writeFileSync(bare, `#!/bin/sh\nexec ${python} -S "$@"\n`);
  chmodSync(bare, 0o755);
  process.env.LLMOPS_PYTHON = bare;
  try {
    await expect(validateStep.run({ config: `${EXAMPLE}/experiment.yaml` }, new MemoryHost())).rejects.toThrow(
      /pdf_index\.py:\d+: node retrieve: module "pypdf" is imported but not installed; .*requirements\.txt:2 lists it/,
    );
  } finally {
    process.env.LLMOPS_PYTHON = python;
  }
});

test('the pr overlay runs three questions with every variant; pr and dev validate', async () => {
  const pr = await runPullRequestPath('chat_with_pdf');
  expect(pr.validated).toEqual(['pr: experiment.pr.yaml', 'dev: experiment.dev.yaml']);
  expect(pr.runs.map((r) => `${r.dataset}/${r.variantId}: ${r.lines - r.failed}/${r.lines}`).sort()).toEqual([
    'chat_with_pdf_pr/answer.variant_1: 3/3',
    'chat_with_pdf_pr/default: 3/3',
  ]);
}, 60_000);

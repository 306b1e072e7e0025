/**
 * Paths a flow names stay inside the flow folder or its additional_includes, after symlinks (issue 11).
 * Each case runs the real CLI (`llmops flow test`): exit 2, the error at file:line:col naming where the path
 * points, never the file's content, and nothing run.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const CLI = resolve('dist/cli.js');
const SECRET = 'TOP-SECRET-CONTENT-9f3a';
const TOOL = `from promptflow.core import tool\n\n@tool\ndef f(question: str) -> str:\n    return "${SECRET}"\n`;

interface Layout {
  /** Files under the case root: `flow/...` is the flow folder, `outside/...` is not. */
  files: Record<string, string>;
  /** Symlinks: link path → target (both relative to the case root; the target is made absolute). */
  links?: Record<string, string>;
}

function makeCase(layout: Layout): string {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'llmops-paths-')));
  const files = { 'outside/secret.txt': `${SECRET}\n`, 'outside/tool.py': TOOL, ...layout.files };
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), content);
  }
  for (const [link, target] of Object.entries(layout.links ?? {})) {
    mkdirSync(dirname(join(root, link)), { recursive: true });
    symlinkSync(join(root, target), join(root, link));
  }
  return root;
}

const dag = (node: string) => `inputs:
  question:
    type: string
outputs:
  answer:
    type: string
    reference: \${n.output}
nodes:
- name: n
${node}
  inputs:
    question: \${inputs.question}
`;
const promptNode = (path: string) => `  type: prompt\n  source:\n    type: code\n    path: ${path}`;
const pythonNode = (path: string) => `  type: python\n  source:\n    type: code\n    path: ${path}`;
const llmNode = (path: string) => `  type: llm\n  source:\n    type: code\n    path: ${path}\n  connection: conn\n  api: chat\n  deployment_name: gpt-4o-mini`;

/** Line and column (1-based) of `needle`'s first occurrence in `text`. */
function positionOf(text: string, needle: string): string {
  const at = text.indexOf(needle);
  const before = text.slice(0, at).split('\n');
  return `${before.length}:${before[before.length - 1].length + 1}`;
}

interface Case {
  name: string;
  layout: Layout;
  /** The flow file (relative to the root) and the text whose position the error must name. */
  flowFile: string;
  at: string;
  /** Where the path really points (relative to the root, or absolute). */
  pointsTo: string;
}

const CASES: Case[] = [
  { name: 'a prompt template ../ outside the flow', layout: { files: { 'flow/flow.dag.yaml': dag(promptNode('../outside/secret.txt')) } }, flowFile: 'flow/flow.dag.yaml', at: '../outside/secret.txt', pointsTo: 'outside/secret.txt' },
  { name: 'an llm template climbing to /etc/hostname', layout: { files: { 'flow/flow.dag.yaml': dag(llmNode('../../../../../../../../../../etc/hostname')) } }, flowFile: 'flow/flow.dag.yaml', at: '../../../../', pointsTo: '/etc/hostname' },
  { name: 'an absolute template path', layout: { files: { 'flow/flow.dag.yaml': dag(promptNode('ABS/outside/secret.txt')) } }, flowFile: 'flow/flow.dag.yaml', at: 'ABS/outside', pointsTo: 'outside/secret.txt' },
  { name: 'a symlinked template', layout: { files: { 'flow/flow.dag.yaml': dag(promptNode('t.jinja2')) }, links: { 'flow/t.jinja2': 'outside/secret.txt' } }, flowFile: 'flow/flow.dag.yaml', at: 't.jinja2', pointsTo: 'outside/secret.txt' },
  { name: 'a template under a symlinked folder', layout: { files: { 'flow/flow.dag.yaml': dag(promptNode('sub/secret.txt')) }, links: { 'flow/sub': 'outside' } }, flowFile: 'flow/flow.dag.yaml', at: 'sub/secret.txt', pointsTo: 'outside/secret.txt' },
  { name: 'a python node ../ outside the flow (was exit 70)', layout: { files: { 'flow/flow.dag.yaml': dag(pythonNode('../outside/tool.py')) } }, flowFile: 'flow/flow.dag.yaml', at: '../outside/tool.py', pointsTo: 'outside/tool.py' },
  { name: 'a symlinked python file', layout: { files: { 'flow/flow.dag.yaml': dag(pythonNode('tool.py')) }, links: { 'flow/tool.py': 'outside/tool.py' } }, flowFile: 'flow/flow.dag.yaml', at: 'tool.py', pointsTo: 'outside/tool.py' },
  { name: 'a flex flow whose code folder is outside', layout: { files: { 'flow/flow.flex.yaml': 'entry: tool:f\ncode: ../outside\n' } }, flowFile: 'flow/flow.flex.yaml', at: '../outside', pointsTo: 'outside' },
  { name: 'a flex entry module symlinked outside', layout: { files: { 'flow/flow.flex.yaml': 'entry: tool:f\n' }, links: { 'flow/tool.py': 'outside/tool.py' } }, flowFile: 'flow/flow.flex.yaml', at: 'tool:f', pointsTo: 'outside/tool.py' },
];

function run(root: string, flowFile: string): { status: number | null; out: string; ms: number } {
  const started = performance.now();
  const r = spawnSync(process.execPath, [CLI, 'flow', 'test', join(root, flowFile), '--inputs', 'question=hi'], { cwd: root, encoding: 'utf8', timeout: 30_000, env: { ...process.env, OPENAI_API_KEY: 'x', OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' } });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}`, ms: performance.now() - started };
}

describe('a path that leaves the flow is a config error (exit 2) that never shows the file', () => {
  test.each(CASES)('$name', ({ layout, flowFile, at, pointsTo }) => {
    const root = makeCase(layout);
    const file = join(root, flowFile);
    writeFileSync(file, readFileSync(file, 'utf8').replace('ABS/', `${root}/`));
    const text = readFileSync(file, 'utf8');
    const r = run(root, flowFile);
    expect(r.status).toBe(2);
    const real = pointsTo.startsWith('/') ? realpathSync(pointsTo) : join(root, pointsTo);
    expect(r.out).toContain(`${flowFile}:${positionOf(text, at.replace('ABS/', `${root}/`))}: error: `);
    expect(r.out).toContain(`which resolves to ${real}, outside the flow folder and its additional_includes`);
    expect(r.out).toMatch(/nothing was run/);
    expect(r.out).not.toContain(SECRET);
    if (pointsTo === '/etc/hostname') {
      const content = readFileSync('/etc/hostname', 'utf8').trim();
      // The host name may also be a word of the message by chance: only a whole-line leak counts.
      if (content.length > 3) expect(r.out.split('\n').map((l) => l.trim())).not.toContain(content);
    }
    expect(r.ms).toBeLessThan(15_000);
  });

  test('a folder listed in additional_includes may be named, and a symlink inside the flow to the flow is fine', () => {
    const root = makeCase({
      files: {
        'shared/t.jinja2': 'shared says {{ question }}',
        'flow/own.jinja2': 'own says {{ question }}',
        'flow/flow.dag.yaml': `additional_includes:\n- ../shared\n${dag(promptNode('shared/t.jinja2'))}`,
        'flow2/own.jinja2': 'own says {{ question }}',
        'flow2/flow.dag.yaml': dag(promptNode('alias.jinja2')),
      },
      links: { 'flow2/alias.jinja2': 'flow2/own.jinja2' },
    });
    const included = run(root, 'flow/flow.dag.yaml');
    expect(included.out).toContain('"answer": "shared says hi"');
    expect(included.status).toBe(0);
    const aliased = run(root, 'flow2/flow.dag.yaml');
    expect(aliased.out).toContain('"answer": "own says hi"');
    expect(aliased.status).toBe(0);
  });
});

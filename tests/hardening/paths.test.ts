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
const llmNode = (path: string) =>
  `  type: llm\n  source:\n    type: code\n    path: ${path}\n  connection: conn\n  api: chat\n  deployment_name: gpt-4o-mini`;

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
  /** The places the message says the path is outside of (default: the flow folder and its includes). */
  outsideOf?: string;
  /** The working directory of the run, relative to the root (default: the root). */
  cwd?: string;
}

const PROMPTY_REFS = "the flow's folder and the working directory";
const prompty = (config: string, sample: string) =>
  `---\nname: p\nmodel:\n  api: chat\n  configuration: ${config}\ninputs:\n  question:\n    type: string\nsample: ${sample}\n---\nuser: {{question}}\n`;

const CASES: Case[] = [
  {
    name: 'a prompt template ../ outside the flow',
    layout: { files: { 'flow/flow.dag.yaml': dag(promptNode('../outside/secret.txt')) } },
    flowFile: 'flow/flow.dag.yaml',
    at: '../outside/secret.txt',
    pointsTo: 'outside/secret.txt',
  },
  {
    name: 'an llm template climbing to /etc/hostname',
    layout: { files: { 'flow/flow.dag.yaml': dag(llmNode('../../../../../../../../../../etc/hostname')) } },
    flowFile: 'flow/flow.dag.yaml',
    at: '../../../../',
    pointsTo: '/etc/hostname',
  },
  {
    name: 'an absolute template path',
    layout: { files: { 'flow/flow.dag.yaml': dag(promptNode('ABS/outside/secret.txt')) } },
    flowFile: 'flow/flow.dag.yaml',
    at: 'ABS/outside',
    pointsTo: 'outside/secret.txt',
  },
  {
    name: 'a symlinked template',
    layout: {
      files: { 'flow/flow.dag.yaml': dag(promptNode('t.jinja2')) },
      links: { 'flow/t.jinja2': 'outside/secret.txt' },
    },
    flowFile: 'flow/flow.dag.yaml',
    at: 't.jinja2',
    pointsTo: 'outside/secret.txt',
  },
  {
    name: 'a template under a symlinked folder',
    layout: { files: { 'flow/flow.dag.yaml': dag(promptNode('sub/secret.txt')) }, links: { 'flow/sub': 'outside' } },
    flowFile: 'flow/flow.dag.yaml',
    at: 'sub/secret.txt',
    pointsTo: 'outside/secret.txt',
  },
  {
    name: 'a python node ../ outside the flow (was exit 70)',
    layout: { files: { 'flow/flow.dag.yaml': dag(pythonNode('../outside/tool.py')) } },
    flowFile: 'flow/flow.dag.yaml',
    at: '../outside/tool.py',
    pointsTo: 'outside/tool.py',
  },
  {
    name: 'a symlinked python file',
    layout: {
      files: { 'flow/flow.dag.yaml': dag(pythonNode('tool.py')) },
      links: { 'flow/tool.py': 'outside/tool.py' },
    },
    flowFile: 'flow/flow.dag.yaml',
    at: 'tool.py',
    pointsTo: 'outside/tool.py',
  },
  {
    name: 'a flex flow whose code folder is outside',
    layout: { files: { 'flow/flow.flex.yaml': 'entry: tool:f\ncode: ../outside\n' } },
    flowFile: 'flow/flow.flex.yaml',
    at: '../outside',
    pointsTo: 'outside',
  },
  {
    name: 'a flex entry module symlinked outside',
    layout: { files: { 'flow/flow.flex.yaml': 'entry: tool:f\n' }, links: { 'flow/tool.py': 'outside/tool.py' } },
    flowFile: 'flow/flow.flex.yaml',
    at: 'tool:f',
    pointsTo: 'outside/tool.py',
  },
  {
    name: 'a prompty ${file:} configuration outside',
    layout: { files: { 'flow/p.prompty': prompty('${file:../outside/secret.txt}', '{}') } },
    flowFile: 'flow/p.prompty',
    at: '${file:../outside',
    pointsTo: 'outside/secret.txt',
    outsideOf: PROMPTY_REFS,
    cwd: 'flow',
  },
  {
    name: 'a prompty ${file:} sample via an absolute path',
    layout: { files: { 'flow/p.prompty': prompty('{}', '${file:ABS/outside/secret.txt}') } },
    flowFile: 'flow/p.prompty',
    at: '${file:ABS/',
    pointsTo: 'outside/secret.txt',
    outsideOf: PROMPTY_REFS,
    cwd: 'flow',
  },
  {
    name: 'a flex sample ${file:} symlinked outside',
    layout: {
      files: { 'flow/flow.flex.yaml': 'entry: tool:f\nsample: ${file:s.json}\n', 'flow/tool.py': TOOL },
      links: { 'flow/s.json': 'outside/secret.txt' },
    },
    flowFile: 'flow/flow.flex.yaml',
    at: '${file:s.json}',
    pointsTo: 'outside/secret.txt',
    outsideOf: PROMPTY_REFS,
    cwd: 'flow',
  },
];

function run(root: string, flowFile: string, cwd = '.'): { status: number | null; out: string; ms: number } {
  const started = performance.now();
  const r = spawnSync(process.execPath, [CLI, 'flow', 'test', join(root, flowFile), '--inputs', 'question=hi'], {
    cwd: join(root, cwd),
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, OPENAI_API_KEY: 'x', OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' },
  });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}`, ms: performance.now() - started };
}

describe('a path that leaves the flow is a config error (exit 2) that never shows the file', () => {
  test.each(CASES)('$name', ({ layout, flowFile, at, pointsTo, outsideOf, cwd }) => {
    const root = makeCase(layout);
    const file = join(root, flowFile);
    writeFileSync(file, readFileSync(file, 'utf8').replace('ABS/', `${root}/`));
    const text = readFileSync(file, 'utf8');
    const r = run(root, flowFile, cwd);
    expect(r.status).toBe(2);
    const real = pointsTo.startsWith('/') ? realpathSync(pointsTo) : join(root, pointsTo);
    const shown = cwd ? join(root, flowFile).slice(join(root, cwd).length + 1) : flowFile;
    expect(r.out).toContain(`${shown}:${positionOf(text, at.replace('ABS/', `${root}/`))}: error: `);
    expect(r.out).toContain(
      `which resolves to ${real}, outside ${outsideOf ?? 'the flow folder and its additional_includes'}`,
    );
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

/**
 * One error boundary: every error class maps to its exit code and lines the same way on the
 * CLI, a GitHub action and an Azure DevOps task, and only our own bugs (70) show a stack trace.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeError } from '../../src/shared/error-report.js';
import { ConfigError, ExitCode, GateFailed, InternalError, ServiceError } from '../../src/shared/errors.js';

const fixture = path.resolve('tests/host/fixtures/throwing-step.ts');
const STACK_LINE = /(^|%0A)\s+at .+[:(]/m;

describe('describeError', () => {
  test.each([
    ['ConfigError', ConfigError.at({ file: 'a.yaml', line: 1 }, 'bad'), ExitCode.InvalidInput],
    ['GateFailed', new GateFailed('gate'), ExitCode.GateFailed],
    ['ServiceError', new ServiceError('down'), ExitCode.ServiceFailed],
    ['InternalError', new InternalError('bug'), ExitCode.InternalError],
    ['TypeError', new TypeError('bug'), ExitCode.InternalError],
    ['a thrown string', 'oops', ExitCode.InternalError],
  ])('%s → its exit code; a stack trace only for 70', (_name, err, code) => {
    const report = describeError(err);
    expect(report.exitCode).toBe(code);
    const logged = report.lines.map((l) => l.text).join('\n');
    if (code === ExitCode.InternalError) {
      expect(logged).toMatch(/^internal error \(a bug in llmops/);
      if (err instanceof Error) expect(logged).toMatch(STACK_LINE);
    } else expect(logged).not.toMatch(STACK_LINE);
    expect(report.summary.join('\n')).not.toMatch(STACK_LINE);
  });

  test('a ConfigError keeps each problem’s place and ends with the count', () => {
    const report = describeError(
      new ConfigError([{ file: 'x.yaml', line: 2, column: 3, message: 'found a; expected b' }]),
    );
    expect(report.lines).toEqual([
      { text: 'found a; expected b', at: { file: 'x.yaml', line: 2, column: 3, message: 'found a; expected b' } },
      { text: '1 problem found; nothing was run.' },
    ]);
    expect(report.summary).toEqual(['x.yaml:2:3: found a; expected b', '1 problem found; nothing was run.']);
  });
});

interface Ran {
  status: number | null;
  /** Everything the user sees: stdout, stderr, and (GitHub) the job summary. */
  shown: string;
}

function runOn(host: 'cli' | 'github' | 'ado', kind: string): Ran {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-boundary-'));
  try {
    const summary = path.join(dir, 'summary.md');
    writeFileSync(summary, '');
    writeFileSync(path.join(dir, 'output'), '');
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: dir };
    if (host === 'github')
      Object.assign(env, {
        GITHUB_ACTIONS: 'true',
        GITHUB_STEP_SUMMARY: summary,
        GITHUB_OUTPUT: path.join(dir, 'output'),
        GITHUB_WORKSPACE: dir,
      });
    if (host === 'ado') Object.assign(env, { AGENT_TEMPDIRECTORY: dir, TF_BUILD: 'True' });
    const r = spawnSync(process.execPath, ['--import', 'tsx', fixture, host, kind], {
      cwd: path.resolve('.'),
      encoding: 'utf8',
      env,
      timeout: 60_000,
    });
    return { status: r.status, shown: [r.stdout, r.stderr, readFileSync(summary, 'utf8')].join('\n') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const expectations: Record<string, { code: number; says: RegExp[] }> = {
  config: {
    code: 2,
    says: [
      /unknown key "flwo"; expected one of: flow, datasets/,
      /invalid JSON; expected one JSON object per line/,
      /2 problems found; nothing was run\./,
    ],
  },
  gate: { code: 1, says: [/1 quality gate failed/, /accuracy mean 0\.61 < 0\.8/] },
  service: { code: 3, says: [/refused the connection after 3 attempts/] },
  internal: {
    code: 70,
    says: [
      /internal error \(a bug in llmops, please report it with this log\): TypeError: cannot read properties of undefined/,
    ],
  },
  string: { code: 70, says: [/internal error \(a bug in llmops, please report it with this log\): a thrown string/] },
};

describe.each(['cli', 'github', 'ado'] as const)('%s host', (host) => {
  test.each(Object.keys(expectations))('%s error', (kind) => {
    const { code, says } = expectations[kind]!;
    const ran = runOn(host, kind);
    expect(ran.status).toBe(code);
    for (const re of says) expect(ran.shown).toMatch(re);
    if (kind === 'internal') expect(ran.shown).toMatch(STACK_LINE);
    else expect(ran.shown).not.toMatch(STACK_LINE);
    if (host === 'github' && kind === 'config')
      expect(ran.shown).toMatch(/::error [^:]*file=experiment\.yaml,line=3,col=7::unknown key/);
    if (host === 'ado' && kind === 'config')
      expect(ran.shown).toMatch(
        /##vso\[task\.logissue type=error;sourcepath=experiment\.yaml;linenumber=3;columnnumber=7;?\]unknown key/,
      );
    if (host !== 'cli') expect(ran.shown).toContain(`failed with exit code ${code}`);
  });
});

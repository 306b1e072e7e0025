/** GitHubHost over the real @actions/core: annotations, their cap, failure codes, failed uploads. */
import { GitHubHost } from '../../src/shared/host/github.js';
import { captureStdout, gitHubEnv } from './capture.js';

function withHost(body: (host: GitHubHost, out: ReturnType<typeof captureStdout>) => Promise<void> | void) {
  return async () => {
    const env = gitHubEnv();
    process.env.GITHUB_WORKSPACE = '/repo';
    const out = captureStdout();
    try {
      await body(new GitHubHost(), out);
    } finally {
      out.restore();
      env.cleanup();
    }
  };
}

test(
  'an error on a user file is an annotation with file (relative to the workspace), line and column',
  withHost((host, out) => {
    host.error('expected a number', { file: '/repo/uc/experiment.yaml', line: 4, column: 9 });
    host.warning('no location');
    expect(out.text()).toBe(
      '::error title=llmops%3A uc/experiment.yaml,file=uc/experiment.yaml,line=4,col=9::expected a number\n::warning::no location\n',
    );
  }),
);

test(
  'only 10 annotations of a kind; the rest go to the log, then one line says how many',
  withHost((host, out) => {
    for (let i = 1; i <= 13; i++) host.error(`problem ${i}`, { file: 'a.yaml', line: i, column: 1 });
    host.finish();
    const lines = out.text().trim().split('\n');
    expect(lines.filter((l) => l.startsWith('::error title='))).toHaveLength(10);
    expect(lines).toContain('error: a.yaml:13:1: problem 13');
    expect(lines.at(-1)).toBe(
      '::error::3 more errors were not annotated (GitHub shows 10 per step); see the step log.',
    );
  }),
);

test(
  'fail() sets the exit code of the contract, not 1 for everything',
  withHost((host, out) => {
    host.fail('invalid input', 2);
    expect(process.exitCode).toBe(2);
    expect(out.text()).toContain('::error::invalid input');
  }),
);

test(
  'a failed artifact upload is a warning, not a failure',
  withHost(async (host, out) => {
    await host.uploadArtifact('report', ['/nonexistent/report.html'], '/nonexistent');
    expect(out.text()).toMatch(/^::warning::artifact "report" was not uploaded: /m);
    expect(process.exitCode ?? 0).toBe(0);
  }),
);

test(
  'the job summary stops short of the 1 MiB limit, with a note',
  withHost(async (host) => {
    const { readFileSync } = await import('node:fs');
    await host.appendSummary('x'.repeat(700_000));
    await host.appendSummary('y'.repeat(700_000));
    const text = readFileSync(process.env.GITHUB_STEP_SUMMARY!, 'utf8');
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(1_000_000);
    expect(text).toContain('summary truncated at 1 MB');
  }),
);

/**
 * One contract every Host adapter must keep (the GitHub and Azure DevOps adapters join this
 * suite when they land): inputs, outputs, annotations, masking in every channel, summary, failure.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CliHost } from '../../src/shared/host/cli.js';
import type { Host } from '../../src/shared/host/host.js';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { GitHubHost } from '../../src/shared/host/github.js';
import { captureStdout, gitHubEnv } from '../packaging/capture.js';

// task-lib writes its vault key (.taskkey) into Agent.TempDirectory or else the current directory
// as soon as it loads, so it is loaded only after pointing that variable at the temp folder.
let AdoHost: typeof import('../../src/shared/host/ado.js').AdoHost;
beforeAll(async () => {
  process.env.AGENT_TEMPDIRECTORY ??= os.tmpdir();
  ({ AdoHost } = await import('../../src/shared/host/ado.js'));
});

interface Harness {
  host: Host;
  /** Everything the host made visible: log lines, outputs, summary, failure message. */
  visible(): string;
  cleanup(): void;
}

const adapters: Record<string, (inputs: Record<string, string>) => Harness> = {
  memory: (inputs) => {
    const host = new MemoryHost(inputs);
    return { host, visible: () => host.transcript, cleanup: () => undefined };
  },
  cli: (inputs) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-host-'));
    const summaryFile = path.join(dir, 'summary.md');
    let written = '';
    const host = new CliHost({ inputs, summaryFile, interactive: false, write: (t) => (written += t) });
    return {
      host,
      visible: () => [written, ...host.outputs.values(), readFileSync(summaryFile, 'utf8')].join('\n'),
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
    };
  },
  // Inputs through the real INPUT_* channel; outputs, summary and logs read back from the files and stdout the runner reads.
  github: (inputs) => {
    const env = gitHubEnv(inputs);
    const out = captureStdout();
    const host = new GitHubHost();
    return {
      host,
      visible: () => [out.shown(), env.output(), env.summary()].join('\n'),
      cleanup: () => {
        out.restore();
        env.cleanup();
      },
    };
  },
  // task-lib reads INPUT_* once, when it loads, so inputs are injected; everything else is the real task-lib's ##vso output.
  ado: (inputs) => {
    const out = captureStdout();
    const exitCode = process.exitCode;
    const host = new AdoHost('contract', (name) => inputs[name]);
    return {
      host,
      visible: () => {
        host.finish();
        const attached = /##vso\[task\.addattachment [^\]]*\](.*)/.exec(out.text())?.[1];
        return [out.shown(), attached ? readFileSync(attached.trim(), 'utf8') : ''].join('\n');
      },
      cleanup: () => {
        out.restore();
        process.exitCode = exitCode;
      },
    };
  },
};

describe.each(Object.entries(adapters))('%s host', (_name, make) => {
  test('reads declared inputs and publishes outputs', async () => {
    const h = make({ config: 'experiment.yaml' });
    try {
      expect(h.host.getInput('config')).toBe('experiment.yaml');
      expect(h.host.getInput('absent')).toBeUndefined();
      h.host.setOutput('run-ids', 'a,b');
      await h.host.appendSummary('# Summary\n');
      expect(h.visible()).toContain('a,b');
      expect(h.visible()).toContain('# Summary');
    } finally {
      h.cleanup();
    }
  });

  test('a masked value never shows in logs, annotations, summary or the failure message', async () => {
    const secret = 'sk-contract-secret-9999';
    const h = make({});
    try {
      h.host.mask(secret);
      h.host.info(`calling with ${secret}`);
      h.host.warning(`retrying ${secret}`, { file: 'experiment.yaml', line: 3, column: 5 });
      h.host.error(`failed ${secret}`);
      await h.host.appendSummary(`| key | ${secret} |\n`);
      h.host.fail(`stopped: ${secret}`, 3);
      const text = h.visible();
      expect(text).not.toContain(secret);
      expect(text).toContain('***');
      expect(text).toContain('stopped: ***');
    } finally {
      h.cleanup();
    }
  });
});

test('the CLI host prints annotations as file:line:column: severity: message', () => {
  let written = '';
  const host = new CliHost({ interactive: false, write: (t) => (written += t) });
  host.warning('ignored in an overlay', { file: 'experiment.pr.yaml', line: 2, column: 1 });
  host.error('no location');
  host.fail('', 2);
  expect(written).toBe('experiment.pr.yaml:2:1: warning: ignored in an overlay\nerror: no location\n');
  expect(host.exitCode).toBe(2);
});

/**
 * The workflow and file commands the GitHub host writes without loading @actions/core are
 * byte for byte what @actions/core writes for the same calls (the random heredoc delimiter
 * aside), escaping included.
 */
import * as core from '@actions/core';
import { readFileSync, writeFileSync } from 'node:fs';
import * as commands from '../../src/shared/host/github-commands.js';
import { captureStdout, gitHubEnv } from './capture.js';

const awkward = 'line one\r\nline two: 100% done, a,b\n%0A stays literal';

function both(ours: () => void, theirs: () => void): [string, string] {
  const a = captureStdout();
  try {
    ours();
  } finally {
    a.restore();
  }
  const b = captureStdout();
  try {
    theirs();
  } finally {
    b.restore();
  }
  return [a.text(), b.text()];
}

test.each([
  ['info', () => commands.info(awkward), () => core.info(awkward)],
  ['debug', () => commands.debug(awkward), () => core.debug(awkward)],
  ['add-mask', () => commands.setSecret(awkward), () => core.setSecret(awkward)],
  [
    'error with a location',
    () =>
      commands.annotate('error', awkward, {
        title: 'llmops: a,b:c',
        file: 'uc/ex:1,2.yaml',
        startLine: 4,
        startColumn: 9,
      }),
    () => core.error(awkward, { title: 'llmops: a,b:c', file: 'uc/ex:1,2.yaml', startLine: 4, startColumn: 9 }),
  ],
  ['warning without one', () => commands.annotate('warning', awkward), () => core.warning(awkward)],
])('%s: the same line as @actions/core', (_name, ours, theirs) => {
  const [a, b] = both(ours, theirs);
  expect(a).toBe(b);
  expect(a.length).toBeGreaterThan(0);
});

test('an output is the same heredoc block in $GITHUB_OUTPUT, multi-line values intact', () => {
  const env = gitHubEnv();
  try {
    commands.setOutput('report-dir', awkward);
    const ours = readFileSync(process.env.GITHUB_OUTPUT!, 'utf8');
    writeFileSync(process.env.GITHUB_OUTPUT!, '');
    core.setOutput('report-dir', awkward);
    const theirs = readFileSync(process.env.GITHUB_OUTPUT!, 'utf8');
    const normalise = (text: string) => text.replace(/ghadelimiter_[0-9a-f-]{36}/g, 'DELIMITER');
    expect(normalise(ours)).toBe(normalise(theirs));
    expect(ours).toMatch(
      /^report-dir<<(ghadelimiter_[0-9a-f-]{36})\nline one\r\nline two: 100% done, a,b\n%0A stays literal\n\1\n$/,
    );
  } finally {
    env.cleanup();
  }
});

test('inputs: INPUT_<NAME> upper-cased with spaces as underscores, trimmed, empty when absent — as @actions/core reads them', () => {
  const env = gitHubEnv({ config: '  uc/experiment.yaml \n', 'cache mode': 'off' });
  try {
    for (const name of ['config', 'cache mode', 'missing']) expect(commands.getInput(name)).toBe(core.getInput(name));
    expect(commands.getInput('config')).toBe('uc/experiment.yaml');
  } finally {
    env.cleanup();
  }
});

/** Test helpers: fixture paths and throw-away flow folders. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, formatProblem } from '../../src/shared/errors.js';

export const FIXTURES = resolve('tests/flow/fixtures');

/** Writes `files` (relative path → content) into a fresh temp folder and returns it. */
export function writeFlow(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'llmops-flow-test-'));
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), content);
  }
  return dir;
}

/** The formatted problems of the ConfigError `fn` throws (fails the test when it throws nothing or something else). */
export function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map(formatProblem);
    throw e;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

/** A python node running `a.py` with the given inputs (YAML flow mapping text). */
export function pyNode(name: string, inputs: string, extra = ''): string {
  return `- name: ${name}\n  type: python\n  source: {type: code, path: a.py}\n  inputs: ${inputs}\n${extra}`;
}

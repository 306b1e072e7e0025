/** Test helpers: capture what @actions/core and azure-pipelines-task-lib write to stdout, in-process. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Lines the runner or agent consumes and never shows: they register the secret to mask. */
export const MASK_COMMAND = /^(::add-mask::|##vso\[task\.setsecret\])/;

export interface Capture {
  text(): string;
  /** Every line but the mask-registration commands. */
  shown(): string;
  restore(): void;
}

export function captureStdout(): Capture {
  const original = process.stdout.write;
  let written = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    written += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }) as typeof process.stdout.write;
  return {
    text: () => written,
    shown: () =>
      written
        .split(/\r?\n/)
        .filter((l) => !MASK_COMMAND.test(l))
        .join('\n'),
    restore: () => {
      process.stdout.write = original;
    },
  };
}

/** A temp dir with GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files set in the environment, and INPUT_* variables. */
const SUMMARY_FILE = path.join(os.tmpdir(), `llmops-gh-summary-${process.pid}.md`);

export function gitHubEnv(inputs: Record<string, string> = {}): {
  dir: string;
  output(): string;
  summary(): string;
  cleanup(): void;
} {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-gh-'));
  const saved = { ...process.env };
  process.env.GITHUB_OUTPUT = path.join(dir, 'output');
  // @actions/core remembers the summary file on first use (one step per process), so keep one path per process.
  process.env.GITHUB_STEP_SUMMARY = SUMMARY_FILE;
  writeFileSync(process.env.GITHUB_OUTPUT, '');
  writeFileSync(process.env.GITHUB_STEP_SUMMARY, '');
  for (const [k, v] of Object.entries(inputs)) process.env[`INPUT_${k.toUpperCase()}`] = v;
  const exitCode = process.exitCode;
  return {
    dir,
    output: () => readFileSync(path.join(dir, 'output'), 'utf8'),
    summary: () => readFileSync(SUMMARY_FILE, 'utf8'),
    cleanup: () => {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
      process.exitCode = exitCode;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

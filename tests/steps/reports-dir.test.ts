/**
 * reports.dir is resolved from the repository the use case is in, not from the folder the command runs in: the CLI
 * run from another folder writes the report where it writes it when run from the repository root.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../support/azure/cli.js';
import { baseEnv, baseExperiment, baseFiles } from '../helpers/use-case-dir.js';

/** A repository (with .git when `git`) holding the base use case in `use-cases/demo`. */
function repository(experiment: string, git = true) {
  const root = mkdtempSync(path.join(os.tmpdir(), 'llmops-reports-dir-'));
  if (git) mkdirSync(path.join(root, '.git'));
  const useCase = path.join(root, 'use-cases/demo');
  for (const [file, content] of Object.entries({ ...baseFiles, 'experiment.yaml': experiment })) {
    mkdirSync(path.dirname(path.join(useCase, file)), { recursive: true });
    writeFileSync(path.join(useCase, file), content);
  }
  return { root, useCase };
}

async function lifecycleFrom(cwd: string, useCase: string, store: string) {
  const common = ['--config', path.join(useCase, 'experiment.yaml'), '--store', store];
  for (const step of ['bulk-run', 'evaluate', 'report']) {
    const r = await runCli([step, ...common], { cwd, env: baseEnv });
    expect({ step, status: r.status, stderr: r.stderr }).toEqual({ step, status: 0, stderr: expect.any(String) });
  }
}

const cases: [string, string, boolean, (root: string, useCase: string) => string][] = [
  ['no reports block: <repository root>/reports', baseExperiment, true, (root) => path.join(root, 'reports')],
  [
    'reports.dir relative: from the repository root',
    `${baseExperiment}reports:\n  dir: out/reports\n`,
    true,
    (root) => path.join(root, 'out/reports'),
  ],
  ['in no git repository: the use case folder', baseExperiment, false, (_, useCase) => path.join(useCase, 'reports')],
];

test.each(cases)(
  '%s, whatever folder the CLI runs from',
  async (_, experiment, git, expected) => {
    const { root, useCase } = repository(experiment, git);
    const elsewhere = mkdtempSync(path.join(os.tmpdir(), 'llmops-elsewhere-'));
    try {
      await lifecycleFrom(elsewhere, useCase, path.join(root, '.llmops'));
      const dir = expected(root, useCase);
      expect(existsSync(path.join(dir, 'results.json'))).toBe(true);
      expect(existsSync(path.join(dir, 'report.html'))).toBe(true);
      expect(existsSync(path.join(elsewhere, 'reports'))).toBe(false);
      expect(existsSync(path.join(elsewhere, 'out'))).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(elsewhere, { recursive: true, force: true });
    }
  },
  60_000,
);

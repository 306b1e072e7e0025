/**
 * `execution.python_requirements: install`: a flow's requirements.txt installed into a virtual environment
 * keyed by the file's content, `<root>/<hash>/`, made once and reused (a CI cache of `<store>/venvs` keeps it
 * between builds), so a pipeline needs no pip step. The environment sees the system's site-packages too, so
 * packages installed there (e.g. Debian python3-* packages) stay importable.
 * @module
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, ServiceError, type SourceLocation } from '../../errors.js';
import { displayPath, normaliseName } from './user-code.js';

export type PythonRequirementsMode = 'check' | 'install' | 'off';

export interface VirtualEnvOptions {
  requirementsFile: string;
  /** Folder holding the environments (`<store>/venvs`). */
  root: string;
  /** Base interpreter (default: LLMOPS_PYTHON, else python3). */
  python?: string;
  /** Where the setting is written, for messages. */
  setting?: SourceLocation;
  log?: (message: string) => void;
}

const DONE_MARKER = '.llmops-complete';

/**
 * Prompt Flow's own distributions. The engine and its stand-in `promptflow` package provide what flows import
 * from them, and the stand-in comes first on the worker's path, so installing them would only cost minutes and
 * hundreds of megabytes, and `promptflow-sdk` (still listed by template projects) is no longer published at all.
 */
const PROVIDED_DISTRIBUTIONS = new Set(
  [
    'promptflow',
    'promptflow-core',
    'promptflow-devkit',
    'promptflow-tracing',
    'promptflow-azure',
    'promptflow-tools',
    'promptflow-evals',
    'promptflow-sdk',
  ].map(normaliseName),
);

/**
 * The requirements pip installs: the user's file without Prompt Flow's own distributions (their lines are kept
 * as comments, so the file still says what was left out), nested `-r`/`-c` files made absolute since the copy
 * lives elsewhere. `text` is empty when nothing is left to install.
 */
export function installableRequirements(text: string, folder: string): { text: string; omitted: string[] } {
  const omitted: string[] = [];
  let left = 0;
  const lines = text.split(/\r?\n/).map((raw) => {
    const spec = raw.replace(/(^|\s)#.*$/, '').trim();
    if (!spec) return raw;
    const nested = /^(-r|--requirement|-c|--constraint)(\s+|=)(.+)$/.exec(spec);
    if (nested) {
      left++;
      return `${nested[1]} ${path.resolve(folder, nested[3].trim())}`;
    }
    const name = /^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([<>=!~;@ ]|$)/.exec(spec)?.[1];
    if (name && PROVIDED_DISTRIBUTIONS.has(normaliseName(name))) {
      omitted.push(name);
      return `# provided by llmops: ${raw}`;
    }
    if (!spec.startsWith('-') || /^-e\s/.test(spec)) left++;
    return raw;
  });
  return left > 0 ? { text: `${lines.join('\n')}\n`, omitted } : { text: '', omitted };
}

/** The environment's interpreter: `<root>/<hash>/bin/python`, created and filled when not there yet. */
export async function ensureVirtualEnv(o: VirtualEnvOptions): Promise<string> {
  const python = o.python ?? process.env.LLMOPS_PYTHON ?? 'python3';
  const content = readFileSync(o.requirementsFile);
  const hash = createHash('sha256').update(python).update('\0').update(content).digest('hex').slice(0, 16);
  const dir = path.resolve(o.root, hash);
  const bin = process.platform === 'win32' ? path.join(dir, 'Scripts', 'python.exe') : path.join(dir, 'bin', 'python');
  if (existsSync(path.join(dir, DONE_MARKER)) && existsSync(bin)) return bin;
  const release = await lock(`${dir}.lock`, o.log);
  try {
    // Another process may have made it while this one waited.
    if (existsSync(path.join(dir, DONE_MARKER)) && existsSync(bin)) return bin;
    await createVirtualEnv(o, python, dir);
    return bin;
  } finally {
    release();
  }
}

const LOCK_STALE_MS = 30 * 60_000;

/** A lock folder (mkdir is atomic): one process makes an environment while others on the machine wait for it. */
async function lock(lockDir: string, log?: (message: string) => void): Promise<() => void> {
  mkdirSync(path.dirname(lockDir), { recursive: true });
  let told = false;
  for (;;) {
    try {
      mkdirSync(lockDir);
      return () => rmSync(lockDir, { recursive: true, force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // A lock left by a killed process is taken over once it is old enough.
      const held = statSync(lockDir, { throwIfNoEntry: false });
      if (held && Date.now() - held.mtimeMs > LOCK_STALE_MS) rmSync(lockDir, { recursive: true, force: true });
      if (!told) log?.(`waiting for another process making ${path.basename(lockDir, '.lock')}`);
      told = true;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

async function createVirtualEnv(o: VirtualEnvOptions, python: string, dir: string): Promise<void> {
  const bin = process.platform === 'win32' ? path.join(dir, 'Scripts', 'python.exe') : path.join(dir, 'bin', 'python');
  const setting = o.setting ?? { file: 'execution.python_requirements' };
  // A half-made environment (a killed install) is made again from scratch.
  rmSync(dir, { recursive: true, force: true });
  o.log?.(`creating a Python virtual environment for ${displayPath(o.requirementsFile)} in ${displayPath(dir)}`);
  // The base interpreter's pip, seen through the system site-packages, installs into the environment: no
  // ensurepip bootstrap (seconds per environment, and absent from Debian's python3 without python3-venv).
  const basePip = (await run(python, ['-m', 'pip', '--version'], process.cwd())).code === 0;
  const made = await run(
    python,
    ['-m', 'venv', '--system-site-packages', ...(basePip ? ['--without-pip'] : []), dir],
    process.cwd(),
  );
  if (made.code !== 0) {
    rmSync(dir, { recursive: true, force: true });
    if (/ensurepip|venv/i.test(made.output)) {
      throw ConfigError.at(
        setting,
        `python_requirements: install needs Python's venv module with pip or ensurepip, which ${python} lacks (on Debian/Ubuntu: apt-get install python3-venv python3-pip): ${lastLines(made.output)}`,
      );
    }
    throw ConfigError.at(setting, `python_requirements: install: ${python} -m venv failed: ${lastLines(made.output)}`);
  }
  const folder = path.dirname(o.requirementsFile);
  const installable = installableRequirements(readFileSync(o.requirementsFile, 'utf8'), folder);
  if (installable.omitted.length > 0)
    o.log?.(
      `not installing ${installable.omitted.join(', ')} from ${displayPath(o.requirementsFile)}: llmops provides Prompt Flow`,
    );
  if (installable.text === '') {
    writeFileSync(path.join(dir, DONE_MARKER), `${new Date().toISOString()}\n`);
    return;
  }
  const filtered = path.join(dir, 'requirements.llmops.txt');
  writeFileSync(filtered, installable.text);
  o.log?.(`installing ${displayPath(o.requirementsFile)} (pip)`);
  // pip reads relative paths in the file from its working directory: the file's folder, as the user wrote them.
  const pip = await run(
    bin,
    ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '-r', filtered],
    folder,
  );
  if (pip.code !== 0) {
    rmSync(dir, { recursive: true, force: true });
    const text = lastLines(pip.output);
    if (
      /(Connection|Temporary failure|Name or service not known|Read timed out|ProxyError|SSLError|HTTP error 5\d\d)/i.test(
        pip.output,
      )
    ) {
      throw new ServiceError(
        `pip could not reach the package index while installing ${displayPath(o.requirementsFile)}: ${text}`,
      );
    }
    throw ConfigError.at(
      { file: displayPath(o.requirementsFile) },
      `pip install failed (python_requirements: install): ${text}`,
    );
  }
  writeFileSync(path.join(dir, DONE_MARKER), `${new Date().toISOString()}\n`);
}

function lastLines(text: string, n = 6): string {
  return text.trim().split(/\r?\n/).slice(-n).join(' | ');
}

function run(cmd: string, args: string[], cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1' } },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number'
            ? (err as unknown as { code: number }).code
            : 1
          : 0;
        resolve({ code, output: `${stdout}${stderr}${err && !stderr ? err.message : ''}` });
      },
    );
  });
}

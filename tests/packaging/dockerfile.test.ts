/**
 * docker/cli.Dockerfile, linted by structure (there is no Docker engine in CI): a Debian
 * node:24 base, python3 installed, the packed CLI installed, and nothing that breaks Jenkins'
 * `agent { docker }` (which starts the container with `cat` and `docker exec`s each step).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

interface Instruction {
  op: string;
  args: string;
}

/** Instructions with line continuations joined and comments dropped. */
function instructions(text: string): Instruction[] {
  const joined = text.replace(/\\\r?\n/g, ' ');
  return joined
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

const steps = instructions(readFileSync('docker/cli.Dockerfile', 'utf8'));
const ops = (op: string) => steps.filter((s) => s.op === op);

test('starts FROM node:24-slim (Debian, the Node the actions run on)', () => {
  expect(steps[0]).toEqual({ op: 'FROM', args: 'node:24-slim' });
  expect(ops('FROM')).toHaveLength(1);
});

test('has no ENTRYPOINT, or only one that execs its arguments', () => {
  for (const e of ops('ENTRYPOINT')) expect(e.args).toMatch(/exec "\$@"/);
});

test('installs python3 with apt and cleans the lists in the same layer', () => {
  const apt = ops('RUN').find((r) => r.args.includes('apt-get install'));
  expect(apt?.args).toMatch(/apt-get install -y --no-install-recommends [^&]*\bpython3\b/);
  expect(apt?.args).toContain('rm -rf /var/lib/apt/lists/*');
});

test('installs the packed CLI and checks it runs', () => {
  expect(ops('COPY').map((c) => c.args)).toContain('llmops-*.tgz /tmp/');
  const install = ops('RUN').find((r) => r.args.includes('npm install --global'));
  expect(install?.args).toContain('--omit=dev');
  expect(install?.args).toContain('llmops --version');
});

test('ends with a CMD in exec form and runs as a non-root user', () => {
  const cmd = ops('CMD');
  expect(cmd).toHaveLength(1);
  expect(JSON.parse(cmd[0].args)[0]).toBe('llmops');
  expect(ops('USER').at(-1)?.args).not.toBe('root');
});

test('sets a 16 MB young generation through NODE_OPTIONS, which node accepts there', () => {
  const env = ops('ENV').find((e) => e.args.includes('NODE_OPTIONS='));
  const value = env?.args.match(/NODE_OPTIONS=(\S+)/)?.[1];
  expect(value).toBe('--max-semi-space-size=16');
  // Node refuses flags outside its NODE_OPTIONS allow-list (exit 9): the image's CLI would not start.
  const r = spawnSync(process.execPath, ['-e', '0'], {
    env: { ...process.env, NODE_OPTIONS: value },
    encoding: 'utf8',
  });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
});

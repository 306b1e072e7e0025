/**
 * The heavy steps' relaunch with a smaller young generation (src/packaging/relaunch.ts), through a real parent and
 * child node: which steps relaunch, that the child gets the flag and the host's environment, that exit codes and
 * signals pass through, and that the child does not outlive a parent killed outright.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { HEAVY_STEPS, relaunchSkipReason, SEMI_SPACE_MB } from '../../src/packaging/relaunch.js';

const probe = path.join(process.cwd(), 'tests/packaging/fixtures/relaunch/probe.ts');
const flag = `--max-semi-space-size=${SEMI_SPACE_MB}`;

interface Started {
  child: ChildProcess;
  /** The first line the process running the step writes (how it was started). */
  first: Promise<{
    pid: number;
    ppid: number;
    execArgv: string[];
    relaunched: string | null;
    markLeft: string | null;
    probe: string | null;
  }>;
  output: () => string;
}

function start(args: string[], env: NodeJS.ProcessEnv = {}): Started {
  const base = { ...process.env };
  delete base.NODE_OPTIONS; // Jest's own (--experimental-vm-modules) is not what is under test
  delete base.LLMOPS_RELAUNCHED;
  delete base.LLMOPS_RELAUNCH;
  const child = spawn(process.execPath, ['--import', 'tsx', probe, ...args], {
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let text = '';
  const first = new Promise<Started['first'] extends Promise<infer T> ? T : never>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      text += String(chunk);
      const line = text.split('\n')[0];
      if (text.includes('\n')) resolve(JSON.parse(line));
    });
    child.on('exit', () => reject(new Error(`exited before writing: ${text}`)));
  });
  first.catch(() => undefined);
  return { child, first, output: () => text };
}

const exitOf = async (child: ChildProcess) => {
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  return { code, signal };
};

/** Running (a zombie waiting to be reaped by whoever adopted it is not). */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
};

test('only bulk-run, evaluate and report relaunch, and not when the young generation is given or it is off', () => {
  expect([...HEAVY_STEPS].sort()).toEqual(['bulk-run', 'evaluate', 'report']);
  expect(relaunchSkipReason('evaluate', {}, [])).toBeUndefined();
  expect(relaunchSkipReason('validate', {}, [])).toBe('not a heavy step');
  expect(relaunchSkipReason(undefined, {}, [])).toBe('not a heavy step');
  expect(relaunchSkipReason('report', { NODE_OPTIONS: '--max-semi-space-size=8' }, [])).toBe(
    'young generation set by the caller',
  );
  expect(relaunchSkipReason('report', {}, ['--max_semi_space_size=32'])).toBe('young generation set by the caller');
  expect(relaunchSkipReason('report', { LLMOPS_RELAUNCH: '0' }, [])).toBe('LLMOPS_RELAUNCH=0');
  expect(relaunchSkipReason('report', { LLMOPS_RELAUNCHED: '1' }, [])).toBe('already relaunched');
});

test('a heavy step runs in a child node with the flag, the environment and the exit code passed through', async () => {
  const s = start(['bulk-run', 'exit:7'], { LLMOPS_PROBE_VALUE: 'kept' });
  const first = await s.first;
  expect(first.ppid).toBe(s.child.pid);
  expect(first.execArgv).toContain(flag);
  expect(first.relaunched).toBe('1');
  expect(first.markLeft).toBeNull(); // not passed on to what the child starts
  expect(first.probe).toBe('kept');
  expect(await exitOf(s.child)).toEqual({ code: 7, signal: null });
}, 30_000);

test('a small step, or a node already given the flag, runs in the first process', async () => {
  for (const [args, env] of [
    [['validate', 'exit:3'], {}],
    [['report', 'exit:3'], { NODE_OPTIONS: '--max-semi-space-size=8' }],
    [['report', 'exit:3'], { LLMOPS_RELAUNCH: '0' }],
  ] as const) {
    const s = start([...args], env);
    const first = await s.first;
    expect(first.pid).toBe(s.child.pid);
    expect(first.execArgv).not.toContain(flag);
    expect(await exitOf(s.child)).toEqual({ code: 3, signal: null });
  }
}, 30_000);

test("a runner's SIGTERM to the parent reaches the child, and the child's exit code comes back", async () => {
  const s = start(['evaluate', 'signal']);
  const first = await s.first;
  expect(first.ppid).toBe(s.child.pid);
  s.child.kill('SIGTERM');
  expect(await exitOf(s.child)).toEqual({ code: 143, signal: null });
  expect(s.output()).toContain('got SIGTERM');
}, 30_000);

test('a child ended by a signal ends its parent by the same signal', async () => {
  const s = start(['report', 'hang']);
  const first = await s.first;
  process.kill(first.pid, 'SIGTERM'); // the child has no SIGTERM handler: it dies of it
  expect(await exitOf(s.child)).toEqual({ code: null, signal: 'SIGTERM' });
}, 30_000);

test('a parent killed outright (SIGKILL) takes the child with it', async () => {
  const s = start(['bulk-run', 'hang']);
  const first = await s.first;
  s.child.kill('SIGKILL');
  await exitOf(s.child);
  const until = Date.now() + 3000;
  while (alive(first.pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  expect(alive(first.pid)).toBe(false);
}, 30_000);

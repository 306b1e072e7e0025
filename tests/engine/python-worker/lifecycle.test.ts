import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import {
  PythonPoolClosed,
  PythonWorkerCrashed,
  PythonWorkerPool,
  PythonWorkerTimeout,
} from '../../../src/shared/engine/python-worker/index.js';

const nodesDir = path.join(process.cwd(), 'tests/engine/python-worker/fixtures/nodes');

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && isRunning(pid); i++) await new Promise((r) => setTimeout(r, 20));
  return !isRunning(pid);
}

test('a worker that dies mid-call fails its in-flight calls clearly and is replaced', async () => {
  const pool = new PythonWorkerPool({ workingDir: nodesDir });
  try {
    const pid = (await pool.call('crash_tool.py', { crash: false })).output as number;
    const slow = pool.call('slow_tool.py', { seconds: 1 }, { node: 'slow' });
    const crash = pool.call('crash_tool.py', { crash: true }, { node: 'crasher' });
    const [slowErr, crashErr] = await Promise.all([slow.catch((e: Error) => e), crash.catch((e: Error) => e)]);
    expect(crashErr).toBeInstanceOf(PythonWorkerCrashed);
    expect((crashErr as Error).message).toContain(
      `Python worker (pid ${pid}) exited with code 3 while running python node crasher`,
    );
    expect(slowErr).toBeInstanceOf(PythonWorkerCrashed);
    const newPid = (await pool.call('crash_tool.py', { crash: false })).output as number;
    expect(newPid).not.toBe(pid);
    expect(pool.stats()).toMatchObject({ crashed: 1, started: 2, workers: 1 });
  } finally {
    await pool.close();
  }
});

test('a call past its timeout is rejected and its worker recycled; the pool keeps working', async () => {
  const pool = new PythonWorkerPool({ workingDir: nodesDir });
  try {
    const pid = (await pool.call('slow_tool.py', { seconds: 0 })).output as number;
    const err = await pool.call('slow_tool.py', { seconds: 30 }, { timeoutMs: 200 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(PythonWorkerTimeout);
    expect(await waitGone(pid)).toBe(true);
    const next = (await pool.call('slow_tool.py', { seconds: 0 })).output as number;
    expect(next).not.toBe(pid);
  } finally {
    await pool.close();
  }
});

test('several workers share the load and run calls in parallel', async () => {
  const pool = new PythonWorkerPool({ workingDir: nodesDir, workers: 4, threadsPerWorker: 1 });
  try {
    const runs = await Promise.all(Array.from({ length: 8 }, () => pool.call('overlap_tool.py', { seconds: 0.2 })));
    const spans = runs.map((r) => r.output as { pid: number; start: number; end: number });
    expect(new Set(spans.map((s) => s.pid)).size).toBe(4);
    // Each worker runs one call at a time (threadsPerWorker 1), yet calls of different workers overlap.
    const overlapping = spans.filter((a) => spans.some((b) => b.pid !== a.pid && b.start < a.end && a.start < b.end));
    expect(overlapping.length).toBeGreaterThanOrEqual(4);
  } finally {
    await pool.close();
  }
});

test('close() stops every worker and later calls are refused', async () => {
  const pool = new PythonWorkerPool({ workingDir: nodesDir, workers: 2 });
  await Promise.all([pool.call('slow_tool.py', { seconds: 0.05 }), pool.call('slow_tool.py', { seconds: 0.05 })]);
  const { pids } = pool.stats();
  expect(pids).toHaveLength(2);
  await pool.close();
  for (const pid of pids) expect(await waitGone(pid)).toBe(true);
  await expect(pool.call('slow_tool.py', { seconds: 0 })).rejects.toBeInstanceOf(PythonPoolClosed);
});

test('a worker whose engine went away exits, even with a line waiting on an engine callback', async () => {
  // The engine killed outright (SIGKILL, a cancelled CI job) closes the worker's input: nothing will answer.
  const worker = spawn('python3', [path.resolve('src/shared/engine/python/worker.py'), '--threads', '2'], {
    cwd: nodesDir,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    const lines = createInterface({ input: worker.stdout });
    const messages = lines[Symbol.asyncIterator]();
    expect(JSON.parse((await messages.next()).value as string)).toMatchObject({ ready: true });
    worker.stdin.write(
      JSON.stringify({ op: 'call', id: 1, file: 'waits_for_engine.py', inputs: { name: 'Ada' } }) + '\n',
    );
    expect(JSON.parse((await messages.next()).value as string)).toMatchObject({ cb: expect.any(Number), op: 'render' });
    const exited = new Promise<number | null>((resolve) => worker.on('exit', (code) => resolve(code)));
    worker.stdin.end();
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 5000))]);
    expect(code).toBe(0);
  } finally {
    worker.kill('SIGKILL');
  }
});

test('a missing Python executable is a clear error, not a hang', async () => {
  const pool = new PythonWorkerPool({ workingDir: nodesDir, python: '/nonexistent/python3' });
  try {
    const err = await pool.call('slow_tool.py', { seconds: 0 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(PythonWorkerCrashed);
    expect((err as Error).message).toContain('could not start /nonexistent/python3');
    expect((err as Error).message).toContain('LLMOPS_PYTHON');
  } finally {
    await pool.close();
  }
});

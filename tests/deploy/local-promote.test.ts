/**
 * `deploy --target local --promote-when not-worse` through the CLI bundle: blue and green `flow serve` processes
 * behind the deployment's loopback traffic split, the new colour given 50 % and then all the traffic, the
 * promotion gate deciding from the request logs the two colours write. A green failing 30 % of its requests is
 * judged worse and rolled back, the split put back exactly as it was; a green as good as blue is promoted; the
 * endpoint never changes; `deploy --list` shows both colours with their weights while they share the traffic.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { readState, stopLocalDeployment } from '../../src/shared/deploy/index.js';
import { makeUseCase } from '../helpers/use-case-dir.js';

const uc = makeUseCase({
  'experiment.yaml':
    'name: demo\nflow: flows/std\ndatasets:\n  - name: train\n    source: data/train.jsonl\n    mappings:\n      question: ${data.question}\nevaluators: []\n',
  'flows/std/flow.dag.yaml': `inputs:
  question: {type: string}
outputs:
  answer: {type: string, reference: '\${answer.output}'}
nodes:
- name: answer
  type: python
  source: {type: code, path: answer.py}
  inputs:
    question: \${inputs.question}
`,
  // A version's failure share comes from its environment; the smoke request ("hello") never fails.
  'flows/std/answer.py': `import itertools
import os
import time

from promptflow import tool

_calls = itertools.count()


@tool
def answer(question: str) -> str:
    time.sleep(0.01)
    if question != "hello" and next(_calls) % 10 < int(os.environ.get("AB_FAIL_BELOW", "0")):
        raise RuntimeError("this version fails some requests")
    return "answer to " + question
`,
  'sample-request.json': '{"question": "hello"}\n',
});
const stateDir = path.join(uc.dir, '.llmops');
const cliBundle = path.resolve('dist/cli.js');

afterAll(async () => {
  await stopLocalDeployment(stateDir, 'demo');
  uc.cleanup();
});

/** The CLI as a child; asynchronous, so this process keeps sending traffic meanwhile. */
const deploy = (args: string[], env: Record<string, string> = {}, started?: (child: ChildProcess) => void) =>
  new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [cliBundle, 'deploy', '--state-dir', stateDir, ...args], {
      cwd: uc.dir,
      env: { ...process.env, LLMOPS_CLI: cliBundle, ...env },
    });
    started?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
const outputsOf = (stdout: string) =>
  Object.fromEntries(
    stdout
      .split('\n')
      .filter((l) => /^[a-z-]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
const gate = [
  '--promote-when',
  'not-worse',
  '--promote-min-requests',
  '120',
  '--promote-margin',
  'latency=0.5,error_rate=0.05',
  '--traffic-steps',
  '50',
];

/** Live callers: requests to the endpoint, four at a time, until stopped; `paused` holds them. */
function callers(endpoint: string) {
  let running = true;
  let paused = false;
  let n = 0;
  const loop = async () => {
    while (running) {
      if (paused) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      const i = n++;
      await fetch(endpoint, { method: 'POST', body: JSON.stringify({ question: `q${i}` }) })
        .then((r) => r.text())
        .catch(() => undefined);
    }
  };
  const loops = Array.from({ length: 4 }, loop);
  return {
    pause: (p: boolean) => void (paused = p),
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Waits until the state file shows the new colour sharing the traffic. */
async function sharing(): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const s = readState(stateDir, 'demo');
    if (s?.canary && Object.keys(s.traffic ?? {}).length === 2) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the new colour never got a share of the traffic');
}

test('a worse green is rolled back with the split restored exactly; a green as good as blue is promoted; the endpoint stays', async () => {
  // 1. First deploy: the split and blue at 100 %.
  const first = await deploy(gate);
  expect(first.stderr).not.toMatch(/error:/i);
  expect(first.status).toBe(0);
  const endpoint = outputsOf(first.stdout).endpoint;
  const s1 = readState(stateDir, 'demo')!;
  expect(endpoint).toBe(`${s1.split!.url}/score`);
  expect(s1.traffic).toEqual({ blue: 100 });
  const routesBefore = JSON.parse(readFileSync(s1.split!.routesFile, 'utf8')) as { routes: unknown };

  const load = callers(endpoint);
  try {
    // 2. A green failing 30 % of its requests: at 50 % the gate judges it worse; the split goes back to blue.
    const worse = deploy(gate, { AB_FAIL_BELOW: '3' });
    await sharing();
    load.pause(true);
    const listed = await deploy(['--list']);
    load.pause(false);
    expect(listed.status).toBe(0);
    expect(listed.stdout + listed.stderr).toMatch(
      /demo {2}running {2}http:\/\/127\.0\.0\.1:\d+\/score {2}split: blue 50% pid \d+, green 50% pid \d+/,
    );
    const colours = JSON.parse(outputsOf(listed.stdout).deployments)[0].colours;
    expect(colours.map((c: { slot: string; weight: number }) => [c.slot, c.weight])).toEqual([
      ['blue', 50],
      ['green', 50],
    ]);
    const rejected = await worse;
    expect(rejected.status).toBe(1);
    expect(rejected.stderr).toMatch(/promotion gate \(not-worse\) at 50%/);
    expect(rejected.stderr).toMatch(/worse/);
    const s2 = readState(stateDir, 'demo')!;
    expect(s2.live.pid).toBe(s1.live.pid);
    expect(s2.canary).toBeUndefined();
    expect(s2.traffic).toEqual({ blue: 100 });
    expect((JSON.parse(readFileSync(s1.split!.routesFile, 'utf8')) as { routes: unknown }).routes).toEqual(
      routesBefore.routes,
    );
    const status = (await (await fetch(`${s1.split!.url}/.llmops/split`)).json()) as { traffic: unknown };
    expect(status.traffic).toEqual({ blue: 100 });

    // 3. A rollout killed while green has half the traffic: the next deploy first gives blue all of it again and
    // stops that green, then rolls out its own.
    let killed: ChildProcess | undefined;
    const interrupted = deploy(gate, {}, (c) => (killed = c));
    await sharing();
    const orphan = readState(stateDir, 'demo')!.canary!;
    killed!.kill('SIGKILL');
    await interrupted;
    expect(alive(orphan.pid)).toBe(true);

    // 4. A green as good as blue: promoted; blue is stopped; same endpoint.
    const better = await deploy(gate);
    expect(better.stderr).toContain(
      `an earlier rollout of demo was interrupted: blue has all the traffic again, green (pid ${orphan.pid}) stopped`,
    );
    expect(alive(orphan.pid)).toBe(false);
    expect(better.stderr).not.toMatch(/error:/i);
    expect(better.status).toBe(0);
    expect(outputsOf(better.stdout).endpoint).toBe(endpoint);
    expect(JSON.parse(outputsOf(better.stdout).traffic)).toEqual({ green: 100 });
    const s3 = readState(stateDir, 'demo')!;
    expect(s3.live.slot).toBe('green');
    expect(s3.previous?.pid).toBe(s1.live.pid);
    const answer = await fetch(endpoint, { method: 'POST', body: '{"question": "hello"}' });
    expect(answer.headers.get('x-llmops-version')).toBe('green');
  } finally {
    await load.stop();
  }
  // 5. A later deploy without promote-when keeps the split (and the endpoint): its stages run without a gate.
  const plain = await deploy([]);
  expect(plain.stderr).not.toMatch(/error:/i);
  expect(plain.status).toBe(0);
  expect(JSON.parse(outputsOf(plain.stdout).traffic)).toEqual({ blue: 100 });
  expect(outputsOf(plain.stdout).endpoint).toBe(`${readState(stateDir, 'demo')!.split!.url}/score`);

  // 6. Stop: the live colour and the split go, and the record.
  const last = readState(stateDir, 'demo')!;
  const stopped = await deploy(['--stop']);
  expect(stopped.status).toBe(0);
  expect(alive(last.live.pid)).toBe(false);
  expect(alive(last.split!.pid)).toBe(false);
  expect(readState(stateDir, 'demo')).toBeUndefined();
}, 240_000);

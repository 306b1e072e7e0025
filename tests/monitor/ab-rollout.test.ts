/**
 * Production A/B decided by data: two local flow servers of the same flow, blue (the live version) and green (the
 * new one), behind a loopback weighted split. Each writes its request log naming itself; at each stage the
 * promotion gate compares what each answered during the stage. A green that fails 30 % of its requests is
 * judged worse and rolled back, the traffic restored exactly; a green as good as blue is promoted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { planRollout, runRollout, type RolloutCheck } from '../../src/shared/deploy/rollout.js';
import { probeEndpoint } from '../../src/shared/deploy/rollout-health.js';
import type { CompareResult } from '../../src/shared/monitor/compare.js';
import { parseMargins } from '../../src/shared/monitor/compare.js';
import { promoteWhenCheck } from '../../src/shared/monitor/promote.js';
import { startFlowServer, type FlowServer } from '../../src/shared/serve/index.js';
import { startSplitTarget } from '../support/split/split-target.js';

const FLOW = 'tests/monitor/fixtures/ab';
const PER_STAGE = 200;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-ab-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function serve(name: string, failBelow: number): Promise<FlowServer> {
  return startFlowServer({
    flow: FLOW,
    port: 0,
    log: false,
    init: { fail_below: failBelow, sleep_ms: 15 },
    requestLog: { file: path.join(dir, 'logs', `${name}.jsonl`), deployment: name },
  });
}

async function abRollout(greenFailBelow: number, requirement: 'better' | 'not-worse') {
  const blue = await serve('blue', 0);
  const green = await serve('green', greenFailBelow);
  const split = await startSplitTarget({ blue: blue.url, green: green.url }, { blue: 100 });
  const compared: CompareResult[] = [];
  // The stage's traffic: what live callers would send, through the split.
  const traffic: RolloutCheck = async (_v, stage) => {
    if (stage)
      await probeEndpoint({
        url: `${split.url}/score`,
        headers: {},
        bodies: Array.from({ length: 100 }, (_, n) => JSON.stringify({ n })),
        count: PER_STAGE,
        doFetch: fetch,
        timeoutMs: 30_000,
      });
    return { passed: true, detail: stage ? `${PER_STAGE} requests` : 'no traffic' };
  };
  const gate = promoteWhenCheck({
    requirement,
    sources: [path.join(dir, 'logs')],
    margins: parseMargins('latency=0.5,error_rate=0.05'),
    minRequests: 50,
    stageTimeoutMs: 10_000,
    pollMs: 100,
    onCompare: (_s, r) => compared.push(r),
  });
  try {
    const plan = planRollout({
      target: 'split',
      endpoint: 'ab',
      newVersion: 'green',
      prior: { blue: 100 },
      steps: [50],
    });
    const result = await runRollout(plan, split, { checks: [traffic, gate] });
    return { result, compared, writes: split.writes, live: (await split.readTraffic()).traffic };
  } finally {
    await split.close();
    await Promise.all([blue.close(), green.close()]);
  }
}

test('a green failing 30 % of requests is judged worse at 50 % and rolled back; traffic restored exactly', async () => {
  const { result, compared, writes, live } = await abRollout(3, 'not-worse');
  expect(compared).toHaveLength(1);
  const c = compared[0];
  expect(c.verdict).toBe('worse');
  const errors = c.metrics.find((m) => m.metric === 'error_rate')!;
  // The split sends every other request to green (100 of 200), and green fails 3 of every 10 calls it gets. A
  // server appends a request to its log after answering it, so the last one may land after the gate has read.
  expect(errors.candidate.n).toBeGreaterThanOrEqual(98);
  expect(errors.candidate.value).toBeCloseTo(0.3, 1);
  expect(errors.reference.n).toBeGreaterThanOrEqual(98);
  expect(errors.reference.value).toBe(0);
  expect(errors.verdict).toBe('worse');
  expect(result.outcome).toBe('rolled-back');
  expect(result.reason).toMatch(/promotion gate \(not-worse\) at 50%: green vs blue: worse/);
  expect(writes).toEqual([{ blue: 50, green: 50 }, { blue: 100 }]);
  expect(live).toEqual({ blue: 100 });
}, 120_000);

test('a green as good as blue is not worse at 50 % and promoted to 100 %', async () => {
  const { result, compared, live } = await abRollout(0, 'not-worse');
  expect(compared.map((c) => c.verdict)).toEqual(['not-worse']);
  expect(compared[0].metrics.map((m) => m.metric)).toEqual(['latency', 'error_rate']);
  expect(result.outcome).toBe('promoted');
  expect(live).toEqual({ green: 100 });
}, 120_000);

/**
 * The rollout core on its own: plans as data (stages, CURRENT/PRIOR shares honoured, bad plans refused before
 * any call) and, over random failure points (provisioning, a check at any stage, a write that fails before or
 * after it applied, a concurrent edit), the invariants after every change of an in-memory traffic target.
 */
import fc from 'fast-check';
import { ConfigError } from '../../src/shared/errors.js';
import {
  ConcurrentEdit,
  planRollout,
  planText,
  rolloutMarkdown,
  runRollout,
  sameTraffic,
  withShare,
  type TrafficMap,
  type TrafficTarget,
} from '../../src/shared/deploy/rollout.js';

test('plans: default 10 → 50 → 100 with the prior shares scaled; CURRENT/PRIOR allocation honoured; first deployment takes 100', () => {
  const p = planRollout({ target: 't', endpoint: 'e', newVersion: 'green', prior: { blue: 100 } });
  expect(p.stages.map((s) => s.traffic)).toEqual([{ blue: 90, green: 10 }, { blue: 50, green: 50 }, { green: 100 }]);
  const ab = planRollout({
    target: 't',
    endpoint: 'e',
    newVersion: 'green',
    prior: { blue: 70, old: 30 },
    finalWeight: 80,
    priorVersion: 'blue',
    steps: [10, 50, 90],
  });
  expect(ab.stages.map((s) => s.traffic)).toEqual([
    { blue: 63, green: 10, old: 27 },
    { blue: 35, green: 50, old: 15 },
    { blue: 20, green: 80 },
  ]);
  expect(planRollout({ target: 't', endpoint: 'e', newVersion: 'g', prior: {} }).stages).toEqual([
    { weight: 100, traffic: { g: 100 } },
  ]);
  expect(planText(ab)).toContain('on any failure: traffic back to blue 70%, old 30%');
  // A first deployment takes everything, whatever CURRENT share was configured (as the template does).
  expect(
    planRollout({ target: 't', endpoint: 'e', newVersion: 'g', prior: {}, finalWeight: 10, priorVersion: 'b' }).stages,
  ).toEqual([{ weight: 100, traffic: { g: 100 } }]);
  expect(() =>
    planRollout({ target: 't', endpoint: 'e', newVersion: 'g', prior: { a: 100 }, finalWeight: 50, priorVersion: 'x' }),
  ).toThrow(/prior deployment x serves no traffic now \(live: a 100%\)/);
  expect(() => planRollout({ target: 't', endpoint: 'e', newVersion: 'g', prior: { a: 60 } })).toThrow(ConfigError);
  expect(() =>
    planRollout({ target: 't', endpoint: 'e', newVersion: 'g', prior: { a: 100 }, steps: [50, 10] }),
  ).toThrow(/expected increasing integers/);
});

test('withShare: integers adding up to 100 for any prior map and share', () => {
  fc.assert(
    fc.property(
      fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), fc.integer({ min: 1, max: 100 }), { minKeys: 1 }),
      fc.integer({ min: 1, max: 100 }),
      (raw, share) => {
        const m = withShare(raw, 'new', share);
        expect(Object.values(m).every(Number.isInteger)).toBe(true);
        expect(Object.values(m).reduce((s, w) => s + w, 0)).toBe(100);
        expect(m.new).toBe(share);
      },
    ),
  );
});

/** An in-memory target that fails where told and checks the invariants after each change. */
class MemoryTarget implements TrafficTarget {
  traffic: TrafficMap;
  etag = 0;
  states = new Map<string, string>();
  writes = 0;
  deleted: string[] = [];
  constructor(
    prior: TrafficMap,
    readonly fail: { provision: boolean; write?: { at: number; applied: boolean }; concurrentAtWrite?: number },
    readonly onChange: () => void,
  ) {
    this.traffic = { ...prior };
    for (const v of Object.keys(prior)) this.states.set(v, 'Succeeded');
    this.states.set('old-1', 'Succeeded');
  }
  async readTraffic() {
    return { traffic: { ...this.traffic }, etag: String(this.etag) };
  }
  async writeTraffic(t: TrafficMap, etag?: string) {
    const n = ++this.writes;
    if (this.fail.concurrentAtWrite === n) {
      // Someone else moves 1% to their own deployment.
      const [top] = Object.entries(this.traffic).sort((a, b) => b[1] - a[1]);
      this.states.set('intruder', 'Succeeded');
      this.traffic = { ...this.traffic, [top[0]]: top[1] - 1, intruder: 1 };
      this.etag++;
      this.onChange();
    }
    if (etag !== String(this.etag)) throw new ConcurrentEdit('etag');
    for (const [v, w] of Object.entries(t))
      if (w > 0 && this.states.get(v) !== 'Succeeded') throw new Error(`refused: ${v}`);
    const failNow = this.fail.write?.at === n;
    if (failNow && !this.fail.write!.applied) throw new Error('503 after retries');
    this.traffic = { ...t };
    this.etag++;
    this.onChange();
    if (failNow) throw new Error('connection reset after the write applied');
  }
  async provision(v: string) {
    this.states.set(v, 'Creating');
    this.onChange();
    this.states.set(v, this.fail.provision ? 'Failed' : 'Succeeded');
    this.onChange();
    if (this.fail.provision) throw new Error('provisioning failed');
  }
  async listVersions() {
    return [...this.states.keys()].reverse();
  }
  async deleteVersion(v: string) {
    this.states.delete(v);
    this.deleted.push(v);
    this.onChange();
  }
}

test('property: after every change traffic sums to 100 and only reaches Succeeded versions; a failure restores the prior map exactly', async () => {
  const priorArb = fc.oneof(
    fc.constant<TrafficMap>({ blue: 100 }),
    fc.constant<TrafficMap>({ blue: 70, old: 30 }),
    fc.constant<TrafficMap>({ blue: 34, old: 33, older: 33 }),
  );
  await fc.assert(
    fc.asyncProperty(
      priorArb,
      fc.boolean(),
      fc.option(fc.record({ at: fc.integer({ min: 1, max: 4 }), applied: fc.boolean() }), { nil: undefined }),
      fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
      fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
      async (prior, provisionFails, writeFault, checkFailsAt, concurrentAtWrite) => {
        const plan = planRollout({ target: 'mem', endpoint: 'e', newVersion: 'green', prior });
        let concurrent = false;
        const invariants = () => {
          const values = Object.values(target.traffic);
          expect(values.reduce((s, w) => s + w, 0)).toBe(100);
          for (const [v, w] of Object.entries(target.traffic))
            if (w > 0) expect(target.states.get(v)).toBe('Succeeded');
        };
        const target: MemoryTarget = new MemoryTarget(
          prior,
          { provision: provisionFails, write: writeFault, concurrentAtWrite },
          () => {
            if (target.traffic.intruder !== undefined) concurrent = true;
            invariants();
          },
        );
        let checks = 0;
        const result = await runRollout(plan, target, {
          checks: [async () => ({ passed: checks++ !== checkFailsAt, detail: `check ${checks}` })],
        });
        invariants();
        const failed = provisionFails || writeFault !== undefined || (checkFailsAt !== undefined && checkFailsAt <= 3);
        if (result.outcome === 'promoted') {
          expect(target.traffic).toEqual({ green: 100 });
          expect(concurrent).toBe(false);
        } else if (result.outcome === 'conflict') {
          expect(concurrent).toBe(true);
        } else {
          expect(result.outcome).toBe('rolled-back');
          expect(failed || concurrent).toBe(true);
          expect(sameTraffic(target.traffic, prior)).toBe(true);
          expect(result.reason).toBeTruthy();
          expect(target.deleted).toEqual([]);
        }
        expect(rolloutMarkdown(result)).toContain(result.outcome);
      },
    ),
    { numRuns: 300 },
  );
});

test('pruning keeps the newest versions and never a serving one', async () => {
  const target = new MemoryTarget({ blue: 100 }, { provision: false }, () => undefined);
  target.states.set('older-2', 'Succeeded');
  const plan = planRollout({ target: 'mem', endpoint: 'e', newVersion: 'green', prior: { blue: 100 }, keep: 2 });
  const r = await runRollout(plan, target, { checks: [] });
  expect(r.outcome).toBe('promoted');
  // Newest first: green, older-2, old-1, blue → keep green + the newest other (older-2).
  expect(r.pruned).toEqual(['old-1', 'blue']);
});

test('a mirror stage is planned as data before any live traffic; the prior mirror is kept where allowed and restored on failure', async () => {
  const p = planRollout({
    target: 't',
    endpoint: 'e',
    newVersion: 'green',
    prior: { blue: 100 },
    mirrorPercent: 20,
    priorMirror: { shadow: 5 },
  });
  expect(p.stages).toEqual([
    { weight: 0, traffic: { blue: 100 }, mirror: { green: 20 } },
    { weight: 10, traffic: { blue: 90, green: 10 }, mirror: { shadow: 5 } },
    { weight: 50, traffic: { blue: 50, green: 50 }, mirror: { shadow: 5 } },
    { weight: 100, traffic: { green: 100 }, mirror: { shadow: 5 } },
  ]);
  expect(planText(p)).toContain('mirror 20% of live requests to green (responses discarded), then checks');
  expect(planText(p)).toContain('on any failure: traffic back to blue 100% (mirrored: shadow 5%)');
  // Nothing serves yet: nothing to copy, no mirror stage.
  expect(planRollout({ target: 't', endpoint: 'e', newVersion: 'g', prior: {}, mirrorPercent: 20 }).stages).toEqual([
    { weight: 100, traffic: { g: 100 } },
  ]);
  for (const bad of [0, 51, 2.5])
    expect(() =>
      planRollout({ target: 't', endpoint: 'e', newVersion: 'g', prior: { a: 100 }, mirrorPercent: bad }),
    ).toThrow(/mirrored traffic .*; expected an integer from 1 to 50/);

  // Run against a target that mirrors; the check fails while mirroring: traffic and mirror come back exactly.
  let state = { traffic: { blue: 100 } as TrafficMap, mirror: { shadow: 5 } as TrafficMap };
  const writes: (typeof state)[] = [];
  const target: TrafficTarget = {
    mirrors: true,
    readTraffic: async () => ({ traffic: { ...state.traffic }, mirror: { ...state.mirror } }),
    writeTraffic: async (traffic, _etag, mirror) => {
      state = { traffic, mirror: mirror ?? state.mirror };
      writes.push(state);
    },
    provision: async () => undefined,
    listVersions: async () => ['green', 'blue'],
    deleteVersion: async () => undefined,
  };
  const r = await runRollout(p, target, {
    checks: [async (_v, stage) => ({ passed: !stage?.mirror?.green, detail: 'figures' })],
  });
  expect(r.outcome).toBe('rolled-back');
  expect(r.steps.map((s) => `${s.kind}${s.weight ?? ''}:${s.passed}`)).toEqual([
    'provision:true',
    'smoke0:true',
    'mirror20:false',
    'rollback:true',
  ]);
  expect(writes).toEqual([
    { traffic: { blue: 100 }, mirror: { green: 20 } },
    { traffic: { blue: 100 }, mirror: { shadow: 5 } },
  ]);
  // A target that cannot mirror refuses such a plan before anything is called.
  await expect(runRollout(p, { ...target, mirrors: false }, { checks: [] })).rejects.toThrow(/cannot mirror traffic/);
});

test("stage health: the new version's error rate and p95 from the requests it answered, attributed by header", async () => {
  const { healthOf, judgeHealth, RequestRecorder } = await import('../../src/shared/deploy/rollout-health.js');
  const samples = [
    ...Array.from({ length: 18 }, (_, i) => ({ version: 'green', status: 200, ms: 10 + i })),
    { version: 'green', status: 503, ms: 40 },
    { version: 'green', status: 0, ms: 5000 },
    { version: 'blue', status: 500, ms: 3 },
    { version: 'green', status: 404, ms: 2 },
  ];
  const h = healthOf(samples, 'green');
  expect(h).toEqual({ version: 'green', requests: 21, errors: 2, errorRate: 2 / 21, p95Ms: 40, unattributedErrors: 0 });
  expect(judgeHealth(h, { maxErrorRate: 0.1 })).toEqual({
    passed: true,
    detail: 'green: 21 requests, 2 errors (9.5 %), p95 40 ms',
  });
  expect(judgeHealth(h, { maxP95Ms: 30 }).detail).toBe(
    'green: 21 requests, 2 errors (9.5 %), p95 40 ms: error rate above 1.0 %, p95 above 30 ms',
  );
  expect(judgeHealth(healthOf([{ status: 0, ms: 1 }], 'green'), {})).toEqual({
    passed: false,
    detail:
      'green: 0 requests, 0 errors (0 %), p95 0 ms: no request was answered by it, 1 request(s) through the endpoint got no answer',
  });
  // The recorder attributes by the response header, else by the header the request named.
  const http = await import('node:http');
  const server = http.createServer((req, res) => {
    res.writeHead(req.url === '/fail' ? 502 : 200, req.url === '/fail' ? {} : { 'x-served-by': 'blue' });
    res.end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  try {
    const rec = new RequestRecorder('x-served-by');
    await (await rec.fetch(`${base}/ok`)).text();
    await (await rec.fetch(`${base}/fail`, { headers: { 'x-served-by': 'green' } })).text();
    await rec.fetch('http://127.0.0.1:1/refused').catch(() => undefined);
    expect(rec.take().map((s) => [s.version, s.status])).toEqual([
      ['blue', 200],
      ['green', 502],
      [undefined, 0],
    ]);
    expect(rec.take()).toEqual([]);
  } finally {
    server.close();
  }
});

/**
 * An HTTP endpoint as the flow under test: bulk-run → evaluate → report against a loopback service with another
 * framework's API shape (tests/support/migrated-service.ts) backed by the local model server; headers from the
 * environment, masked; the Responses preset; problems at file:line:column.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { loadUseCase } from '../../src/shared/config/use-case.js';
import { ConfigError, formatProblem } from '../../src/shared/errors.js';
import { MemoryHost } from '../../src/shared/host/memory.js';
import { bulkRunStep } from '../../src/shared/steps/bulk-run.js';
import { deployStep } from '../../src/shared/steps/deploy.js';
import { evaluateStep } from '../../src/shared/steps/evaluate.js';
import { reportStep } from '../../src/shared/steps/report.js';
import { makeUseCase } from '../helpers/use-case-dir.js';
import { startMigratedService, type MigratedService } from '../support/migrated-service.js';

const rulesFile = path.resolve('examples/web_classification/model-rules.yaml');
const data = readFileSync(path.resolve('examples/web_classification/data/data.jsonl'), 'utf8');

let model: ModelServerHandle;
let migrated: MigratedService;
beforeAll(async () => {
  model = await startModelServer({ rules: rulesFile });
  migrated = await startMigratedService({ modelUrl: model.url, requireKey: 'agent-key-7f3a9c' });
  process.env.AGENT_URL = migrated.url;
  process.env.AGENT_KEY = 'agent-key-7f3a9c';
});
afterAll(async () => {
  await migrated.close();
  await model.close();
});

const agentTarget = `flow:
  target: http
  url: \${AGENT_URL}/agent/run
  headers:
    Authorization: Bearer \${AGENT_KEY}
  body:
    messages:
      - role: user
        contents:
          - type: text
            text: \${inputs.url}
  outputs:
    category: $.value.category
    evidence: $.value.evidence
  usage:
    prompt_tokens: $.usage_details.input_token_count
    completion_tokens: $.usage_details.output_token_count
  timeout_s: 30
`;

const experiment = (flow: string, gateMin = 0.6) => `name: web_classification
${flow}
datasets:
  - name: train
    source: data/data.jsonl
    mappings:
      url: \${data.url}
evaluators:
  - name: exact
    builtin: exact_match
    datasets:
      - name: train
        mappings:
          prediction: \${run.outputs.category}
          reference: \${data.answer}
gates:
  - metric: exact_match
    evaluator: exact
    min: ${gateMin}
`;

async function lifecycle(dir: string, host: MemoryHost) {
  const common = { config: path.join(dir, 'experiment.yaml'), store: path.join(dir, '.llmops') };
  await bulkRunStep.run({ ...common, cacheMode: 'off' }, host);
  await evaluateStep.run({ ...common, cacheMode: 'off' }, host);
  return reportStep.run({ ...common, outputDir: path.join(dir, 'reports') }, host);
}

test('bulk-run, evaluate and report run on an http target unchanged; its key is masked', async () => {
  const uc = makeUseCase({ 'experiment.yaml': experiment(agentTarget), 'data/data.jsonl': data });
  try {
    const host = new MemoryHost();
    const before = migrated.requests;
    await lifecycle(uc.dir, host);
    expect(migrated.requests - before).toBe(10);
    const results = JSON.parse(readFileSync(path.join(uc.dir, 'reports/results.json'), 'utf8'));
    const exact = results.metrics.find((m: { metric: string }) => m.metric === 'exact_match');
    // The migration classifies like the flow's variant_0: 9 of the 10 pages right (the WHO PDF says Academic).
    expect(exact.value).toBeCloseTo(0.9, 5);
    expect(host.outputs.get('gates-passed')).toBe('true');
    const runs = readdirSync(path.join(uc.dir, '.llmops/runs')).filter((r) => r.startsWith('web_classification'));
    const records = readFileSync(path.join(uc.dir, '.llmops/runs', runs[0], 'outputs.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(records[0].outputs).toEqual({ category: 'Movie', evidence: 'Both' });
    expect(records[0].tokens ?? records[0].usage).toBeDefined();
    expect([...host.secrets]).toContain('agent-key-7f3a9c');
  } finally {
    uc.cleanup();
  }
});

test('the responses preset reads output[].content[].text and the usage of a Responses-style answer', async () => {
  const flow = `flow:
  target: http
  preset: responses
  url: \${AGENT_URL}/v1/responses
  agent: web-classifier
  input: url
  outputs:
    category: { path: "$.output[*].content[*].text", join: "" }
`;
  const uc = makeUseCase({ 'experiment.yaml': experiment(flow), 'data/data.jsonl': data });
  try {
    const host = new MemoryHost();
    const common = { config: path.join(uc.dir, 'experiment.yaml'), store: path.join(uc.dir, '.llmops') };
    // Without the key header the service answers 401: a service failure, not a silent empty output.
    await expect(bulkRunStep.run({ ...common, cacheMode: 'off' }, host)).rejects.toThrow(/failed lines/);
    const failed = readFileSync(path.join(uc.dir, '.llmops/runs', runsOf(uc.dir)[0], 'outputs.jsonl'), 'utf8');
    expect(JSON.parse(failed.split('\n')[0]).error.message).toMatch(
      /http target call to http:\/\/127\.0\.0\.1:\d+\/v1\/responses failed with HTTP 401: missing or wrong key/,
    );
  } finally {
    uc.cleanup();
  }
  const withKey = flow.replace('  agent:', '  headers:\n    Authorization: Bearer ${AGENT_KEY}\n  agent:');
  const uc2 = makeUseCase({ 'experiment.yaml': experiment(withKey), 'data/data.jsonl': data });
  try {
    const host = new MemoryHost();
    await lifecycle(uc2.dir, host);
    const results = JSON.parse(readFileSync(path.join(uc2.dir, 'reports/results.json'), 'utf8'));
    expect(results.metrics.find((m: { metric: string }) => m.metric === 'exact_match').value).toBeCloseTo(0.9, 5);
    const record = JSON.parse(
      readFileSync(path.join(uc2.dir, '.llmops/runs', runsOf(uc2.dir)[0], 'outputs.jsonl'), 'utf8').split('\n')[0],
    );
    expect(record.outputs.category).toMatch(/^(Movie|App|Academic|Channel|Profile|PDF|None)$/);
    expect(record.tokens.prompt).toBeGreaterThan(0);
    expect(record.tokens.total).toBe(record.tokens.prompt + record.tokens.completion);
    // agent: names a Foundry hosted agent by reference, beside the input (no model field).
    const sent = migrated.received.filter((r) => r.url === '/v1/responses').pop()!;
    expect(sent.body).toEqual({
      agent: { type: 'agent_reference', name: 'web-classifier' },
      input: [{ role: 'user', content: expect.stringMatching(/^https?:\/\//) }],
    });
  } finally {
    uc2.cleanup();
  }
});

test('the responses preset sends model: as the model field, and agent: {name, version} as a versioned reference', () => {
  const bodyOf = (keys: string) => {
    const flow = `flow:\n  target: http\n  preset: responses\n  url: http://127.0.0.1:9/v1/responses\n  input: url\n${keys}`;
    const uc = makeUseCase({ 'experiment.yaml': experiment(flow), 'data/data.jsonl': data });
    try {
      const model = loadUseCase({ configPath: path.join(uc.dir, 'experiment.yaml'), cwd: uc.dir }).flow.model;
      return model.kind === 'http' ? model.target.body : undefined;
    } finally {
      uc.cleanup();
    }
  };
  const input = [{ role: 'user', content: '${inputs.url}' }];
  expect(bodyOf('  model: gpt-4o-mini\n')).toEqual({ model: 'gpt-4o-mini', input });
  expect(bodyOf('  agent:\n    name: classifier\n    version: 3\n')).toEqual({
    agent: { type: 'agent_reference', name: 'classifier', version: '3' },
    input,
  });
  expect(() => bodyOf('  agent:\n    version: 3\n')).toThrow(
    /experiment\.yaml:7:3: flow\.agent: has no name:, expected the hosted agent's name/,
  );
});

test('a broken http target is reported at file:line:column with what was expected, nothing run', () => {
  const flow = `flow:
  target: http
  url: ftp://example.com/x
  method: DELETE
  headers:
    Authorization: Bearer \${NOT_SET_ANYWHERE_42}
  body:
    q: \${inputs.url} and \${data.url}
  outputs:
    category: value.category
`;
  const uc = makeUseCase({ 'experiment.yaml': experiment(flow), 'data/data.jsonl': data });
  try {
    let error: unknown;
    try {
      loadUseCase({ configPath: path.join(uc.dir, 'experiment.yaml'), cwd: uc.dir });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const lines = (error as ConfigError).problems.map(formatProblem);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^experiment\.yaml:4:8: flow\.url: found "ftp:\/\/example\.com\/x", expected an http/),
        expect.stringMatching(
          /^experiment\.yaml:5:11: flow\.method: found the text "DELETE", expected POST, PUT or PATCH \(the body sent as JSON\) or GET/,
        ),
        expect.stringMatching(/^experiment\.yaml:9:8: flow\.body\.q: found "\$\{data\.url\}", expected \$\{inputs/),
        expect.stringMatching(/^experiment\.yaml:11:15: flow\.outputs\.category: "value\.category" at character 1/),
      ]),
    );
  } finally {
    uc.cleanup();
  }
});

test('an unset header variable is named at its line', () => {
  const uc = makeUseCase({
    'experiment.yaml': experiment(agentTarget.replace('${AGENT_KEY}', '${AGENT_KEY_NOT_SET_42}')),
    'data/data.jsonl': data,
  });
  try {
    expect(() => loadUseCase({ configPath: path.join(uc.dir, 'experiment.yaml'), cwd: uc.dir })).toThrow(
      /experiment\.yaml:6:20: flow\.headers\.Authorization: environment variable AGENT_KEY_NOT_SET_42 is not set/,
    );
  } finally {
    uc.cleanup();
  }
});

test('an http target is retried on 429 through the model client; the cache replays it without calling it', async () => {
  const throttled = await startMigratedService({ modelUrl: model.url, throttleFirst: 3 });
  const flow = agentTarget.replace('${AGENT_URL}', throttled.url).replace(/ {2}headers:\n.*\n/, '');
  const uc = makeUseCase({ 'experiment.yaml': experiment(flow), 'data/data.jsonl': data });
  try {
    const host = new MemoryHost();
    const common = { config: path.join(uc.dir, 'experiment.yaml'), store: path.join(uc.dir, '.llmops') };
    await bulkRunStep.run({ ...common, cacheMode: 'readwrite' }, host);
    // 10 lines, 3 refusals retried: every line answered, none failed.
    expect(throttled.requests).toBe(13);
    const first = readFileSync(path.join(uc.dir, '.llmops/runs', runsOf(uc.dir)[0], 'outputs.jsonl'), 'utf8');
    expect(first.match(/"status":"Completed"/g)).toHaveLength(10);
    const firstRun = host.outputs.get('run-ids');
    rmSync(path.join(uc.dir, '.llmops/runs', firstRun!), { recursive: true });
    rmSync(path.join(uc.dir, '.llmops/experiments'), { recursive: true, force: true });
    const again = new MemoryHost();
    await bulkRunStep.run({ ...common, cacheMode: 'replay' }, again);
    expect(throttled.requests).toBe(13);
    const replayed = readFileSync(
      path.join(uc.dir, '.llmops/runs', again.outputs.get('run-ids')!, 'outputs.jsonl'),
      'utf8',
    );
    expect(replayed.match(/"status":"Completed"/g)).toHaveLength(10);
  } finally {
    uc.cleanup();
    await throttled.close();
  }
});

function runsOf(dir: string): string[] {
  return readdirSync(path.join(dir, '.llmops/runs')).filter((r) => r.startsWith('web_classification'));
}

test('deploy refuses an http target at its line: it is an endpoint already deployed', async () => {
  const uc = makeUseCase({ 'experiment.yaml': experiment(agentTarget), 'data/data.jsonl': data });
  try {
    const error = await deployStep
      .run({ config: path.join(uc.dir, 'experiment.yaml'), target: 'local' } as never, new MemoryHost())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(formatProblem((error as ConfigError).problems[0])).toMatch(
      /experiment\.yaml:3:3: flow: is an http target, an endpoint that is already deployed/,
    );
  } finally {
    uc.cleanup();
  }
});

test('execution.requests_per_minute paces an http target as it paces a model: starts spaced 60000/rpm ms apart', async () => {
  const paced = await startMigratedService({ modelUrl: model.url });
  const flow = agentTarget.replace('${AGENT_URL}', paced.url).replace(/ {2}headers:\n.*\n/, '');
  const uc = makeUseCase({
    'experiment.yaml': `${experiment(flow)}execution:\n  concurrency: 8\n  requests_per_minute: 600\n`,
    'data/data.jsonl': data,
  });
  try {
    const common = { config: path.join(uc.dir, 'experiment.yaml'), store: path.join(uc.dir, '.llmops') };
    await bulkRunStep.run({ ...common, cacheMode: 'off' }, new MemoryHost());
    expect(paced.arrivals).toHaveLength(10);
    const gaps = paced.arrivals.slice(1).map((t, i) => t - paced.arrivals[i]);
    // 600 per minute: one start per 100 ms at most (a few ms of socket scheduling either way).
    expect(Math.min(...gaps)).toBeGreaterThan(90);
  } finally {
    uc.cleanup();
    await paced.close();
  }
});

test('the responses preset needs the agent or model name, and names an unknown key with the keys it takes', () => {
  const flow = `flow:
  target: http
  preset: responses
  url: http://127.0.0.1:9/v1/responses
  input: url
  output_path: $.x
`;
  const uc = makeUseCase({ 'experiment.yaml': experiment(flow), 'data/data.jsonl': data });
  try {
    let error: unknown;
    try {
      loadUseCase({ configPath: path.join(uc.dir, 'experiment.yaml'), cwd: uc.dir });
    } catch (e) {
      error = e;
    }
    const lines = (error as ConfigError).problems.map(formatProblem);
    expect(lines).toEqual([
      'experiment.yaml:4:3: flow.preset: the responses preset needs model: (or agent:), the agent or model name the endpoint answers as',
      expect.stringMatching(
        /^experiment\.yaml:7:3: flow\.output_path: unknown key, expected one of: target, preset, url/,
      ),
    ]);
  } finally {
    uc.cleanup();
  }
});

test('an unreachable http target is named with its URL, not as a model connection', async () => {
  // A port that was just free: nothing accepts connections there.
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const flow = agentTarget.replace('${AGENT_URL}', `http://127.0.0.1:${port}`).replace(/ {2}headers:\n.*\n/, '');
  const uc = makeUseCase({ 'experiment.yaml': experiment(flow), 'data/data.jsonl': data });
  try {
    const common = { config: path.join(uc.dir, 'experiment.yaml'), store: path.join(uc.dir, '.llmops') };
    const error = (await bulkRunStep.run({ ...common, cacheMode: 'off' }, new MemoryHost()).catch((e) => e)) as Error;
    expect(error.message).toMatch(
      new RegExp(`http target http://127\\.0\\.0\\.1:${port}/agent/run is unreachable \\(ECONNREFUSED`),
    );
    expect(error.message).toMatch(/flow\.url in experiment\.yaml/);
    expect(error.message).not.toMatch(/model endpoint|api_base/);
  } finally {
    uc.cleanup();
  }
});

test('GET sends the inputs as query parameters and PUT the JSON body, through the same client and transport', async () => {
  const service = await startMigratedService({ modelUrl: model.url });
  const getFlow = `flow:
  target: http
  method: get
  url: ${service.url}/classify?v=2
  inputs: [url]
  outputs:
    category: $.category
`;
  const putFlow = agentTarget.replace('${AGENT_URL}', service.url).replace(/ {2}headers:\n.*\n/, '  method: PUT\n');
  for (const [flow, method] of [
    [getFlow, 'GET'],
    [putFlow, 'PUT'],
  ]) {
    const uc = makeUseCase({ 'experiment.yaml': experiment(flow), 'data/data.jsonl': data });
    try {
      const host = new MemoryHost();
      service.received.length = 0;
      await lifecycle(uc.dir, host);
      const results = JSON.parse(readFileSync(path.join(uc.dir, 'reports/results.json'), 'utf8'));
      expect(results.metrics.find((m: { metric: string }) => m.metric === 'exact_match').value).toBeCloseTo(0.9, 5);
      expect(service.received).toHaveLength(10);
      expect(new Set(service.received.map((r) => r.method))).toEqual(new Set([method]));
      const first = JSON.parse(data.split('\n')[0]) as { url: string };
      if (method === 'GET') {
        // The URL's own query is kept; the input is encoded as a parameter; nothing is sent as a body.
        expect(service.received.map((r) => r.url)).toContain(`/classify?v=2&url=${encodeURIComponent(first.url)}`);
        expect(service.received.every((r) => r.body === undefined)).toBe(true);
      } else expect(service.received.map((r) => r.url)).toEqual(Array(10).fill('/agent/run'));
    } finally {
      uc.cleanup();
    }
  }
  await service.close();
});

test('a GET with a body or without inputs, and a responses preset on another method, are refused at their lines', () => {
  const problems = (flow: string) => {
    const uc = makeUseCase({ 'experiment.yaml': experiment(flow), 'data/data.jsonl': data });
    try {
      loadUseCase({ configPath: path.join(uc.dir, 'experiment.yaml'), cwd: uc.dir });
      return [];
    } catch (e) {
      return (e as ConfigError).problems.map(formatProblem);
    } finally {
      uc.cleanup();
    }
  };
  expect(
    problems(`flow:
  target: http
  method: GET
  url: http://127.0.0.1:9/classify
  body:
    q: \${inputs.url}
  outputs:
    category: $.category
`),
  ).toEqual([
    'experiment.yaml:2:1: flow: a GET needs inputs:, the names of the line values sent as query parameters',
    expect.stringMatching(/^experiment\.yaml:6:3: flow\.body: a GET sends no body: its inputs: go as query parameters/),
  ]);
  expect(
    problems(`flow:
  target: http
  preset: responses
  method: PUT
  url: http://127.0.0.1:9/v1/responses
  model: gpt-4o
`),
  ).toEqual([
    'experiment.yaml:5:11: flow.method: found the text "PUT", expected POST (the responses preset\'s method)',
  ]);
});

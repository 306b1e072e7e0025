/**
 * An http flow target on Azure ML: the shard jobs run our CLI on the use case, so the target needs nothing of its
 * own there; the dry run of `bulk-run --target azure` plans its shards (against the ARM emulator) and submits,
 * uploads and calls nothing — the endpoint included.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { stringify } from 'yaml';
import { ArmEmulator } from '../support/azure/arm-emulator.js';
import { runCli } from '../support/azure/cli.js';
import { makeUseCase } from '../helpers/use-case-dir.js';

let emulator: ArmEmulator;
let endpoint: http.Server;
let endpointCalls = 0;
let endpointUrl: string;

beforeAll(async () => {
  emulator = await ArmEmulator.start({
    datastore: { accountName: 'devstoreaccount1', accountKey: 'a2V5', containerName: 'azureml-blobstore-0' },
  });
  endpoint = http.createServer((_req, res) => {
    endpointCalls++;
    res.end('{}');
  });
  await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
  endpointUrl = `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}`;
}, 60_000);
afterAll(async () => {
  await emulator?.stop();
  await new Promise((resolve) => endpoint.close(resolve));
});

test('bulk-run --target azure --dry-run accepts an http target and plans its shards without calling it', async () => {
  const data = Array.from({ length: 5 }, (_, i) => JSON.stringify({ question: `q${i}` })).join('\n') + '\n';
  const azure = {
    ...emulator.azureSettings(),
    blob_endpoint: 'http://127.0.0.1:9/devstoreaccount1',
    image: 'ghcr.io/example/llmops-cli:0.1.0',
    lines_per_shard: 2,
  };
  const uc = makeUseCase({
    'experiment.yaml': `name: demo
flow:
  target: http
  url: \${AGENT_URL}/agent/run
  headers:
    Authorization: Bearer \${AGENT_KEY}
  body:
    messages: [{ role: user, contents: [{ type: text, text: "\${inputs.question}" }] }]
  outputs:
    answer: $.value.answer
datasets:
  - name: train
    source: data/train.jsonl
    mappings:
      question: \${data.question}
${stringify({ azure })}`,
    'data/train.jsonl': data,
  });
  try {
    const env = { ...emulator.childEnv(), AGENT_URL: endpointUrl, AGENT_KEY: 'agent-secret-91c2' };
    const dry = await runCli(['bulk-run', '--config', 'experiment.yaml', '--target', 'azure', '--dry-run'], {
      cwd: uc.dir,
      env,
    });
    expect(dry.stderr).not.toMatch(/internal error/);
    expect(dry.status).toBe(0);
    expect(dry.stderr).toContain('3 shard(s)');
    expect(dry.stderr).toMatch(/would submit job demo-.*shard3of3: llmops run-shard --config experiment.yaml/);
    expect(dry.stderr + dry.stdout).not.toContain('agent-secret-91c2');
    expect(emulator.requests.filter((r) => /\/(jobs|codes|environments)\//.test(r.path))).toEqual([]);
    expect(endpointCalls).toBe(0);
  } finally {
    uc.cleanup();
  }
});

/**
 * Telemetry through the CLI bundle: on from the standard variables, off (and not even loaded) without them, a
 * protocol we do not ship refused with exit 2. The modules a run loads are recorded by a module hook.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path, { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startModelServer, type ModelServerHandle } from '../../src/model-server/index.js';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp/receiver.js';
import { INSTRUMENTATION_KEY, startAppInsightsStandIn } from '../support/otlp/app-insights.js';
import { packedCliFiles } from '../../src/shared/serve/packed-cli.js';

const CLI = path.resolve('dist/cli.js');
const CHAT = path.resolve('tests/serve/fixtures/chat');
let model: ModelServerHandle;
let receiver: OtlpReceiver;
let dir: string;

beforeAll(async () => {
  model = await startModelServer();
  receiver = await startOtlpReceiver();
  dir = mkdtempSync(join(tmpdir(), 'llmops-otel-cli-'));
  writeFileSync(join(dir, 'data.jsonl'), ['a', 'b'].map((q) => JSON.stringify({ question: q })).join('\n'));
  writeFileSync(
    join(dir, 'hooks.mjs'),
    `import { registerHooks } from 'node:module';
import { appendFileSync } from 'node:fs';
registerHooks({ load(url, context, next) { appendFileSync(process.env.LOADED_LOG, url + '\\n'); return next(url, context); } });
`,
  );
});
afterAll(async () => {
  await receiver.close();
  await model.close();
});

function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^(OTEL_|APPLICATIONINSIGHTS_)/.test(k) && !/^(AZURE_OPENAI|OPENAI)_/.test(k)) env[k] = v;
  return { ...env, AZURE_OPENAI_ENDPOINT: model.url, AZURE_OPENAI_API_KEY: 'model-key' };
}

function flowRun(
  name: string,
  extra: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stderr: string; loaded: string[] }> {
  const log = join(dir, `${name}.loaded`);
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        pathToUrl(join(dir, 'hooks.mjs')),
        CLI,
        'flow',
        'run',
        CHAT,
        '--data',
        join(dir, 'data.jsonl'),
        '--store',
        join(dir, name),
      ],
      { env: { ...baseEnv(), ...extra, LOADED_LOG: log } },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.resume();
    child.on('close', (code) =>
      resolve({ code, stderr, loaded: existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [] }),
    );
  });
}

function pathToUrl(p: string): string {
  return new URL(`file://${p}`).href;
}

/** The source of every file the process loaded (the bundle's chunks included). */
function sources(loaded: string[]): string {
  return loaded
    .filter((u) => u.startsWith('file:'))
    .map((u) => readFileSync(fileURLToPath(u), 'utf8'))
    .join('\n');
}

test('on: flow run exports its lines; off: the OpenTelemetry SDK is never loaded', async () => {
  const on = await flowRun('on', { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'cli-test' });
  expect(on.stderr).not.toMatch(/error/i);
  expect(on.code).toBe(0);
  const lines = receiver.spans.filter((s) => s.name === 'llmops.line' && s.resource['service.name'] === 'cli-test');
  expect(lines).toHaveLength(2);
  const onSources = sources(on.loaded);
  // What marks our SDK module and the SDK's span processor in the bundle's chunks.
  expect(onSources).toContain('llmops.line.duration');
  expect(onSources).toContain('BatchSpanProcessor');

  const before = receiver.requests.length;
  const off = await flowRun('off', {});
  expect(off.code).toBe(0);
  const offSources = sources(off.loaded);
  expect(offSources).not.toContain('llmops.line.duration');
  expect(offSources).not.toContain('BatchSpanProcessor');
  expect(receiver.requests.length).toBe(before);
});

test('an OTLP protocol llmops does not ship is refused with exit 2 before anything runs', async () => {
  const r = await flowRun('grpc', { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' });
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('OTEL_EXPORTER_OTLP_PROTOCOL: found "grpc", expected "http/protobuf"');
  expect(existsSync(join(dir, 'grpc'))).toBe(false);
});

test('APPLICATIONINSIGHTS_CONNECTION_STRING sends the spans and metrics to Azure Monitor through its exporter', async () => {
  const ai = await startAppInsightsStandIn();
  try {
    const r = await flowRun('azure-monitor', {
      APPLICATIONINSIGHTS_CONNECTION_STRING: ai.connectionString,
      NODE_EXTRA_CA_CERTS: ai.certificate.certFile,
    });
    expect(r.stderr).not.toMatch(/warning|error/i);
    expect(r.code).toBe(0);
    const ours = ai.envelopes.filter((e) => e.iKey === INSTRUMENTATION_KEY);
    const names = ours.map((e) => String(e.data?.baseData?.name ?? ''));
    expect(names.filter((n) => n === 'llmops.line')).toHaveLength(2);
    expect(names).toContain('chat gpt-4o-mini');
    const metrics = ours.filter((e) => e.data?.baseType === 'MetricData');
    const metricNames = metrics.flatMap((e) => (e.data?.baseData?.metrics as { name: string }[] | undefined) ?? []);
    expect(metricNames.map((m) => m.name)).toContain('llmops.line.duration');
  } finally {
    await ai.close();
  }
});

test('the serving image carries the telemetry modules: the packed serving CLI reaches them', () => {
  const entry = path.resolve('dist/serve-cli.js');
  const files = packedCliFiles(entry).map((f) => readFileSync(path.join(path.dirname(entry), f), 'utf8'));
  expect(files.some((code) => code.includes('llmops.line.duration'))).toBe(true);
  expect(files.some((code) => code.includes('AzureMonitorTraceExporter'))).toBe(true);
});

test('flow serve flushes its spans and metrics when it is stopped', async () => {
  const before = receiver.spans.length;
  const child = spawn(process.execPath, [CLI, 'flow', 'serve', CHAT, '--port', '0'], {
    env: { ...baseEnv(), OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'served' },
  });
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /"url":"([^"]+)"/.exec(stderr);
      if (m) resolve(m[1]);
    });
    child.on('exit', () => reject(new Error(stderr)));
  });
  const r = await fetch(`${url}/score`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ question: 'hi' }),
  });
  expect(r.status).toBe(200);
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  const served = receiver.spans.slice(before).filter((s) => s.resource['service.name'] === 'served');
  expect(served.map((s) => s.name).sort()).toEqual([
    'POST /score',
    'chat gpt-4o-mini',
    'llmops.line',
    'llmops.node chat',
  ]);
  const metrics = receiver.metrics.filter((m) => m.resource['service.name'] === 'served').map((m) => m.name);
  expect(metrics).toContain('http.server.request.duration');
});

/**
 * `llmops model-server`: run the local OpenAI-compatible model server (offline, deterministic) until
 * SIGINT/SIGTERM. Prints its URL on stdout (so scripts can capture it) and logs to stderr.
 * @module
 */
import type { Command } from 'commander';
import { ConfigError } from '../shared/errors.js';
import { startModelServer, type ModelServerHandle, type ModelServerOptions } from '../model-server/index.js';
import { runWithHost } from '../cli-support.js';

/** The command's options as commander hands them over (strings, validated here). */
export interface ModelServerCliOptions {
  port?: string;
  host?: string;
  latencyMs?: string;
  jitterMs?: string;
  rpm?: string;
  tpm?: string;
  windowMs?: string;
  faultRate?: string;
  rules?: string;
  seed?: string;
  verbose?: boolean;
}

/** Where the command writes; the CLI passes process streams, tests pass collectors. */
export interface CommandIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

function numberOption(
  flag: string,
  value: string | undefined,
  min: number,
  max: number,
  integer: boolean,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    const kind = integer ? 'an integer' : 'a number';
    throw ConfigError.at(
      { file: flag },
      `expected ${kind} from ${min}${max === Infinity ? ' up' : ` to ${max}`}, found ${JSON.stringify(value)}`,
    );
  }
  return n;
}

/** Validate the flags into server options (ConfigError → exit code 2 at the CLI top level). */
export function modelServerOptions(opts: ModelServerCliOptions): ModelServerOptions {
  return {
    port: numberOption('--port', opts.port, 0, 65535, true),
    host: opts.host,
    latencyMs: numberOption('--latency-ms', opts.latencyMs, 0, Infinity, false),
    jitterMs: numberOption('--jitter-ms', opts.jitterMs, 0, Infinity, false),
    rpm: numberOption('--rpm', opts.rpm, 1, Infinity, true),
    tpm: numberOption('--tpm', opts.tpm, 1, Infinity, true),
    windowMs: numberOption('--window-ms', opts.windowMs, 1, Infinity, true),
    faultRate: numberOption('--fault-rate', opts.faultRate, 0, 1, false),
    seed: numberOption('--seed', opts.seed, 0, 2 ** 32 - 1, true),
    rules: opts.rules,
  };
}

/** Start the server for the command: validate flags, start, print the URL. Returns the running server. */
export async function modelServerAction(
  opts: ModelServerCliOptions,
  io: CommandIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<ModelServerHandle> {
  const options = modelServerOptions(opts);
  if (opts.verbose) options.log = (line) => io.stderr.write(`${line}\n`);
  const server = await startModelServer(options);
  io.stdout.write(`${server.url}\n`);
  const limits = [
    options.latencyMs ? `latency ${options.latencyMs} ms` : '',
    options.jitterMs ? `jitter ${options.jitterMs} ms` : '',
    options.rpm ? `rpm ${options.rpm}` : '',
    options.tpm ? `tpm ${options.tpm}` : '',
    options.faultRate ? `fault rate ${options.faultRate}` : '',
    options.rules ? `rules ${options.rules}` : '',
  ].filter(Boolean);
  io.stderr.write(
    `llmops model server listening on ${server.url} (OpenAI base URL ${server.url}/v1, Azure endpoint ${server.url})` +
      `${limits.length ? `; ${limits.join(', ')}` : ''}. Ctrl+C to stop.\n`,
  );
  return server;
}

/** Wait for SIGINT/SIGTERM, then close the server and print its counters. */
async function serveUntilSignal(server: ModelServerHandle, io: CommandIo): Promise<void> {
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  await server.close();
  const s = server.stats();
  io.stderr.write(
    `llmops model server stopped (${signal}): ${s.requests} requests, statuses ${JSON.stringify(s.byStatus)}, ${s.promptTokens + s.completionTokens} tokens.\n`,
  );
}

/** Add `llmops model-server` to the program. */
export function registerModelServerCommand(program: Command): Command {
  return program
    .command('model-server')
    .description('Run a local OpenAI-compatible model server (deterministic, offline) for flows, tests and demos.')
    .option('--port <n>', 'TCP port (0 picks a free one)', '0')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--latency-ms <ms>', 'fixed delay before each answer')
    .option('--jitter-ms <ms>', 'extra random delay in [0, ms), deterministic from the seed')
    .option('--rpm <n>', 'requests per minute; beyond → 429 with Retry-After')
    .option('--tpm <n>', 'tokens per minute; beyond → 429 with Retry-After')
    .option('--window-ms <ms>', 'length of the rate-limit window (default 60000: a minute)')
    .option('--fault-rate <f>', 'share of requests failing with 500 or a dropped connection (0..1)')
    .option('--rules <file>', 'YAML file of match → answer rules (default answer: an echo of the messages)')
    .option('--seed <n>', 'seed of jitter, faults and ids', '0')
    .option('--verbose', 'log one line per request on stderr')
    .addHelpText(
      'after',
      `
Answers are deterministic: without rules, a chat answer echoes the messages received,
one "<role>: <text>" line per message. Usage is counted with the real tokenizer.

Examples:
  $ llmops model-server --port 8080
  $ llmops model-server --latency-ms 50 --jitter-ms 20 --rpm 600 --rules rules.yaml
  $ llmops model-server --fault-rate 0.05 > server-url.txt &   # URL on stdout, logs on stderr

Point a connection at it:
  OpenAIConnection:       base_url: http://127.0.0.1:8080/v1   api_key: any
  AzureOpenAIConnection:  api_base: http://127.0.0.1:8080      api_key: any

Rules file:
  rules:
    - match: "capital of (\\\\w+)"
      answer: "The capital of {{1}} is Paris."
    - match: "weather in (?<city>\\\\w+)"
      tool_calls: [{ name: get_weather, arguments: { city: "{{city}}" } }]
`,
    )
    .action((opts: ModelServerCliOptions) =>
      runWithHost({ verbose: Boolean(opts.verbose) }, async () => {
        const io: CommandIo = { stdout: process.stdout, stderr: process.stderr };
        const server = await modelServerAction(opts, io);
        await serveUntilSignal(server, io);
      }),
    );
}

import { readFileSync } from 'node:fs';
/**
 * `llmops flow serve` (the flow as an HTTP service, Prompt Flow's serving contract) and
 * `llmops flow build-context` (the docker build context of that service).
 * @module
 */
import { Command } from 'commander';
import { runWithHost } from '../cli-support.js';
import type { Connection } from '../shared/config/connections.js';
import { loadUseCase } from '../shared/config/use-case.js';
import { connectionFromEnv, loadConnections } from '../shared/engine/index.js';
import { ConfigError } from '../shared/errors.js';
import type { LoadedFlow } from '../shared/flow/index.js';
import {
  degradeFromEnv,
  requestLogFromEnv,
  serveCacheFromEnv,
  startFlowServer,
  writeBuildContext,
} from '../shared/serve/index.js';
import { guardFromEnv, parseGuardConfig } from '../shared/safety/guard.js';
import { parseInitOptions } from './flow.js';
import { redactionKindsFromEnv } from '../shared/safety/redact-everywhere.js';
import type { PiiKind } from '../shared/safety/redactor.js';

export interface ServeCommandOptions {
  port?: string;
  host?: string;
  variant?: string[];
  connections?: string;
  config?: string;
  env?: string;
  apiKeyEnv?: string;
  maxBodyBytes?: string;
  timeout?: string;
  pythonWorkers?: string;
  init?: string[];
  initFile?: string;
  requestLog?: string;
  requestLogSample?: string;
  requestLogRedact?: string;
  requestLogPii?: string;
  guards?: string;
  deployment?: string;
  cache?: string;
  cacheTtl?: string;
  maxInFlight?: string;
  fallback?: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** The guards file's text, checked here so that its problems name the file rather than LLMOPS_GUARDS. */
function readGuardsFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw ConfigError.at({ file: '--guards' }, `cannot read ${file}: ${(e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw ConfigError.at({ file }, `not JSON (${(e as Error).message}), expected the guards object`);
  }
  parseGuardConfig(parsed, file);
  return text;
}

function whole(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw ConfigError.at({ file: flag }, `found ${JSON.stringify(value)}, expected a whole number >= ${min}`);
  return n;
}

/** The flow and connections to serve: a flow path and --connections, or a use case's flow and connections. */
export function resolveServeSource(
  flowPath: string | undefined,
  opts: Pick<ServeCommandOptions, 'config' | 'env' | 'connections'>,
  host?: { mask(s: string): void; warning(m: string): void },
): {
  flow: string | LoadedFlow;
  connections: Connection[];
  fallback?: Connection;
  init?: Record<string, unknown>;
  variable(name: string): string | undefined;
  /** The use case's redaction kinds (its `redaction:` block), when it has one. */
  redaction?: readonly PiiKind[];
} {
  let connections: Connection[] = [];
  let flow: string | LoadedFlow | undefined = flowPath;
  let init: Record<string, unknown> | undefined;
  let redaction: readonly PiiKind[] | undefined;
  let variable = (name: string): string | undefined => process.env[name] || undefined;
  if (opts.config) {
    const useCase = loadUseCase({ configPath: opts.config, env: opts.env, host, needs: ['experiment', 'runtime'] });
    connections = useCase.connections;
    if (flow === undefined) {
      flow = useCase.flow.model;
      init = useCase.flow.init;
    }
    variable = useCase.variable; // .env at the repository root too, as the steps read it
    redaction = useCase.redaction?.kinds;
  }
  if (opts.connections) connections = [...connections, ...loadConnections(opts.connections)];
  if (flow === undefined)
    throw ConfigError.at({ file: 'flow serve' }, 'expected a flow path or --config <experiment.yaml>');
  return { flow, connections, fallback: connectionFromEnv(), init, variable, ...(redaction ? { redaction } : {}) };
}

/** Adds `flow serve` and `flow build-context` to the program's `flow` command (created if absent). */
export function registerServeCommand(program: Command): void {
  const flow =
    program.commands.find((c) => c.name() === 'flow') ??
    program.command('flow').description('Run and serve Prompt Flow flows natively.');
  flow
    .command('serve [flow]')
    .description(
      'Serve a flow over HTTP: POST /score, GET /health, GET /version, GET /metrics; SSE streaming for flows whose last llm node streams.',
    )
    .option('--port <n>', 'port (0 = any free port)', '8080')
    .option('--host <h>', 'interface to listen on (0.0.0.0 in a container)', '127.0.0.1')
    .option('--variant <spec>', "variant of one node: '${node.variant_id}' (repeatable)", collect)
    .option(
      '--connections <file-or-folder>',
      'Prompt Flow connection YAML file(s); ${env:VAR} values are read from the environment',
    )
    .option(
      '--config <experiment.yaml>',
      "serve the use case's flow with its connections (placeholders from <CONN>_<KEY> / .env)",
    )
    .option('--env <name>', 'environment overlay of --config (experiment.<env>.yaml)')
    .option(
      '--api-key-env <VAR>',
      'require this variable\'s value as "Authorization: Bearer <key>" or "api-key: <key>" on /score and /metrics',
    )
    .option('--max-body-bytes <n>', 'largest accepted request body (413 beyond)', String(10 * 1024 * 1024))
    .option('--timeout <seconds>', 'per-request time limit (504 beyond); 0 = none', '300')
    .option('--python-workers <n>', 'Python worker processes for python nodes / flex entries', '1')
    .option(
      '--init <name=value...>',
      "a flex class entry's __init__ argument (repeatable), over PF_FLOW_INIT_CONFIG, init.json and flow.flex.yaml init: defaults",
      collect,
    )
    .option('--init-file <file>', '__init__ arguments as a JSON object')
    .option(
      '--request-log <file.jsonl>',
      'append a sample of the completed requests (inputs.*, outputs.* columns) for post-production evaluation (env LLMOPS_REQUEST_LOG)',
    )
    .option('--request-log-sample <rate>', 'share of requests logged, 0..1 (env LLMOPS_REQUEST_LOG_SAMPLE; default 1)')
    .option(
      '--request-log-redact <fields>',
      'comma-separated input/output fields written as [REDACTED] (env LLMOPS_REQUEST_LOG_REDACT); connection secrets always are',
    )
    .option(
      '--request-log-pii <kinds>',
      'PII kinds redacted in every logged text, comma-separated, or "all" (env LLMOPS_REQUEST_LOG_PII): email, phone, payment_card, iban, national_id, passport, address, ip_address',
    )
    .option(
      '--guards <file.json>',
      'safety guards: injection/jailbreak checks on requests, PII/content checks on answers, and the refusal (env LLMOPS_GUARDS holds the same JSON)',
    )
    .option(
      '--deployment <name>',
      'who answers (a deployment, version or colour), written on every request-log line so `llmops monitor --compare` can tell versions apart (env LLMOPS_DEPLOYMENT)',
    )
    .option(
      '--cache <memory|redis|off>',
      'response cache of /score (env LLMOPS_SERVE_CACHE; redis reads its URL from LLMOPS_SERVE_CACHE_REDIS_URL)',
    )
    .option('--cache-ttl <seconds>', 'how long a cached answer is served (env LLMOPS_SERVE_CACHE_TTL; default 300)')
    .option(
      '--max-in-flight <n>',
      '/score requests answered at once; beyond, 503 with Retry-After (env LLMOPS_SERVE_MAX_IN_FLIGHT)',
    )
    .option(
      '--fallback <json>',
      'outputs answered (marked x-llmops-degraded) when the models cannot answer or the line times out (env LLMOPS_SERVE_FALLBACK)',
    )
    .addHelpText(
      'after',
      `
Examples:
  $ llmops flow serve examples/web_classification/flows/experiment --connections conns/ --port 8080
  $ llmops flow serve --config examples/web_classification/experiment.yaml --variant '\${summarize_text_content.variant_1}'
  $ curl -s localhost:8080/score -H 'content-type: application/json' -d '{"url": "https://www.imdb.com/title/tt0111161/"}'
  $ curl -N localhost:8080/score -H 'accept: text/event-stream' -H 'content-type: application/json' -d '{"question": "hi"}'    # streaming flows
Connection values are overridden by <CONNECTION>_<KEY> variables (e.g. AOAI_API_KEY); flex __init__ arguments: flow.flex.yaml init:
defaults < init.json beside it < PF_FLOW_INIT_CONFIG (JSON) < --init-file < --init. SIGTERM/SIGINT stop accepting, finish in-flight requests, then exit.`,
    )
    .action(async (flowPath: string | undefined, opts: ServeCommandOptions) => {
      await runWithHost({}, async (host) => {
        const source = resolveServeSource(flowPath, opts, host);
        const redactedKinds = source.redaction ?? redactionKindsFromEnv(process.env);
        const cli = parseInitOptions(opts);
        const init = source.init || cli.init ? { ...source.init, ...cli.init } : undefined;
        let apiKey: string | undefined;
        if (opts.apiKeyEnv) {
          apiKey = source.variable(opts.apiKeyEnv);
          if (!apiKey)
            throw ConfigError.at(
              { file: '--api-key-env' },
              `environment variable ${opts.apiKeyEnv} is not set or empty; expected the API key callers must send`,
            );
          host.mask(apiKey);
        }
        const servingEnv = {
          ...process.env,
          ...(opts.cache !== undefined ? { LLMOPS_SERVE_CACHE: opts.cache } : {}),
          ...(opts.cacheTtl !== undefined ? { LLMOPS_SERVE_CACHE_TTL: opts.cacheTtl } : {}),
          ...(opts.maxInFlight !== undefined ? { LLMOPS_SERVE_MAX_IN_FLIGHT: opts.maxInFlight } : {}),
          ...(opts.fallback !== undefined ? { LLMOPS_SERVE_FALLBACK: opts.fallback } : {}),
        };
        const cache = serveCacheFromEnv(servingEnv);
        if (cache?.redisUrl) host.mask(cache.redisUrl); // it may carry a password
        const server = await startFlowServer({
          flow: source.flow,
          connections: source.connections,
          fallbackConnection: source.fallback,
          init,
          initText: cli.initText,
          variants: opts.variant,
          port: whole(opts.port, '--port', 0),
          host: opts.host,
          apiKey,
          maxBodyBytes: whole(opts.maxBodyBytes, '--max-body-bytes', 1),
          requestTimeoutMs: (whole(opts.timeout, '--timeout', 0) ?? 300) * 1000,
          pythonWorkers: whole(opts.pythonWorkers, '--python-workers', 1),
          requestLog: requestLogFromEnv({
            ...process.env,
            ...(opts.requestLog !== undefined ? { LLMOPS_REQUEST_LOG: opts.requestLog } : {}),
            ...(opts.requestLogSample !== undefined ? { LLMOPS_REQUEST_LOG_SAMPLE: opts.requestLogSample } : {}),
            ...(opts.requestLogRedact !== undefined ? { LLMOPS_REQUEST_LOG_REDACT: opts.requestLogRedact } : {}),
            ...(opts.deployment !== undefined ? { LLMOPS_DEPLOYMENT: opts.deployment } : {}),
            // The kinds redacted everywhere else (redaction block, LLMOPS_REDACT_PII) unless the log names its own.
            ...(redactedKinds && !process.env.LLMOPS_REQUEST_LOG_PII
              ? { LLMOPS_REQUEST_LOG_PII: redactedKinds.join(',') }
              : {}),
            ...(opts.requestLogPii !== undefined ? { LLMOPS_REQUEST_LOG_PII: opts.requestLogPii } : {}),
          }),
          guard: await guardFromEnv({
            ...process.env,
            ...(opts.guards !== undefined ? { LLMOPS_GUARDS: readGuardsFile(opts.guards) } : {}),
          }),
          cache,
          degrade: degradeFromEnv(servingEnv),
        });
        process.stderr.write(
          JSON.stringify({
            time: new Date().toISOString(),
            level: 'info',
            msg: 'listening',
            url: server.url,
            flow: server.runner.flow.name,
            streaming: server.runner.stream !== undefined,
            pid: process.pid,
          }) + '\n',
        );
        await new Promise<void>((resolve) => {
          const stop = (signal: string) => {
            process.stderr.write(
              JSON.stringify({ time: new Date().toISOString(), level: 'info', msg: 'shutting down', signal }) + '\n',
            );
            process.off('SIGTERM', onTerm);
            process.off('SIGINT', onInt);
            server.close().then(resolve, resolve);
          };
          const onTerm = () => stop('SIGTERM');
          const onInt = () => stop('SIGINT');
          process.on('SIGTERM', onTerm);
          process.on('SIGINT', onInt);
        });
      });
    });
  flow
    .command('build-context [flow]')
    .description(
      'Write a docker build context serving the flow (docker/serve.Dockerfile, the packed CLI, the flow with its variant applied and includes merged, connection templates).',
    )
    .requiredOption('--output <dir>', 'folder to write (replaced)')
    .option('--variant <spec>', "variant of one node: '${node.variant_id}' (repeatable)", collect)
    .option('--connections <file-or-folder>', 'Prompt Flow connection YAML file(s) to template into connections/')
    .option('--config <experiment.yaml>', "the use case's flow and connections")
    .option('--env <name>', 'environment overlay of --config')
    .addHelpText(
      'after',
      `
Examples:
  $ llmops flow build-context --config examples/web_classification/experiment.yaml --variant '\${summarize_text_content.variant_1}' --output build/web
  $ docker build -t web-classification build/web && docker run -p 8080:8080 -e AOAI_API_KEY=... -e AOAI_API_BASE=... web-classification`,
    )
    .action(async (flowPath: string | undefined, opts: ServeCommandOptions & { output: string }) => {
      await runWithHost({}, async (host) => {
        const source = resolveServeSource(flowPath, opts, host);
        const r = writeBuildContext({
          flow: source.flow,
          output: opts.output,
          variants: opts.variant,
          connections: source.connections,
        });
        host.info(
          `build context written to ${r.dir}${r.settings.length ? `; the container needs ${r.settings.join(', ')}` : ''}`,
        );
        process.stdout.write(`build-context=${r.dir}\n`);
      });
    });
}

/**
 * The docker build context of a served flow (our counterpart of `pf flow build --format docker`, §7.3):
 *
 * ```
 * <out>/Dockerfile          docker/serve.Dockerfile
 * <out>/start.sh            the serve command line
 * <out>/app/                the packed CLI (dist/cli.js and the chunks it loads), the Python worker, schemas, package.json
 * <out>/flow/               the flow: additional_includes merged, chosen variants applied, node_variants dropped
 * <out>/connections/*.yaml  one per connection; secrets replaced by ${env:<CONN>_<KEY>}
 * <out>/settings.json       {"<CONN>_<KEY>": ""}: the variables the container needs
 * <out>/requirements.txt    the flow's python_requirements_txt (empty when it has none)
 * ```
 * @module
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { assetPath } from '../assets.js';
import type { Connection } from '../config/connections.js';
import { ConfigError } from '../errors.js';
import { applyVariant, loadFlow, materializeFlow, parseVariantSpec, type LoadedFlow } from '../flow/index.js';
import { connectionOverrideName } from './flow-setup.js';
import { packedCliEntry, packedCliFiles } from './packed-cli.js';

export interface BuildContextOptions {
  flow: string | LoadedFlow;
  output: string;
  variants?: string[];
  connections?: readonly Connection[];
  /**
   * Folder holding the packed CLI (dist/cli.js, or the cli.js of a packaged action/task), src/shared/engine/python,
   * schemas, package.json. Default: where this code runs from (an installation or a packaged bundle).
   */
  packageRoot?: string;
}

export interface BuildContextResult {
  dir: string;
  /** Environment variables the container must be given (connection secrets). */
  settings: string[];
  /** The variants applied (node → variant id). */
  selection: Record<string, string>;
  hasPython: boolean;
}

const SNAKE_TYPE: Record<string, string> = {
  AzureOpenAIConnection: 'azure_open_ai',
  OpenAIConnection: 'open_ai',
  ServerlessConnection: 'serverless',
  CustomConnection: 'custom',
  SerpConnection: 'serp',
  CognitiveSearchConnection: 'cognitive_search',
  AzureContentSafetyConnection: 'azure_content_safety',
  FormRecognizerConnection: 'form_recognizer',
  AzureAIServicesConnection: 'azure_ai_services',
  QdrantConnection: 'qdrant',
  WeaviateConnection: 'weaviate',
};

/** Writes the build context (the output folder is replaced). ConfigError when the flow or a variant is invalid. */
export function writeBuildContext(options: BuildContextOptions): BuildContextResult {
  let flow = typeof options.flow === 'string' ? loadFlow(options.flow) : options.flow;
  if (flow.kind === 'http')
    throw ConfigError.at(flow.target.at, 'an http target is an endpoint already deployed; expected a flow to build');
  for (const spec of options.variants ?? []) {
    if (flow.kind !== 'dag') throw ConfigError.at({ file: '--variant' }, `a ${flow.kind} flow has no variants`);
    const v = parseVariantSpec(spec, { file: '--variant' });
    flow = applyVariant(flow, { ...flow.selection, [v.node]: v.variantId });
  }
  const out = path.resolve(options.output);
  const root = options.packageRoot ?? path.dirname(assetPath('package.json'));
  const cli = packedCliEntry(root);
  const cliFiles = packedCliFiles(cli);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });

  const flowDir = path.join(out, 'flow');
  const materialized = materializeFlow(flow);
  try {
    cpSync(materialized.workingDir, flowDir, {
      recursive: true,
      filter: (src) => !/(^|[\\/])(__pycache__|\.promptflow|\.llmops|\.git)$/.test(src),
    });
  } finally {
    materialized.dispose();
  }
  const flowFile =
    flow.kind === 'prompty'
      ? path.basename(flow.file)
      : path.relative(flow.workingDir, flow.file) || path.basename(flow.file);
  // The includes are now files of the snapshot, so the key goes; a DAG also gets its variants fixed.
  if (flow.kind === 'dag' || (flow.kind === 'flex' && 'additional_includes' in flow.raw)) {
    const raw = flow.kind === 'dag' ? snapshotDag(flow) : { ...flow.raw };
    delete raw.additional_includes;
    writeFileSync(path.join(flowDir, flowFile), stringify(raw, { lineWidth: 0 }));
  }

  const settings: string[] = [];
  const connections = options.connections ?? [];
  // Always present (docker COPY needs it); empty when the flow uses no connection.
  mkdirSync(path.join(out, 'connections'));
  if (connections.length === 0) writeFileSync(path.join(out, 'connections', '.keep'), '');
  for (const c of connections) {
    const yaml = connectionYaml(c, settings);
    writeFileSync(path.join(out, 'connections', `${c.name.replace(/[^\w.-]/g, '_')}.yaml`), stringify(yaml));
  }
  writeFileSync(
    path.join(out, 'settings.json'),
    JSON.stringify(Object.fromEntries(settings.map((s) => [s, ''])), null, 2) + '\n',
  );

  const reqName = requirementsFile(flow);
  const reqPath = reqName ? path.join(flowDir, reqName) : undefined;
  writeFileSync(
    path.join(out, 'requirements.txt'),
    reqPath && existsSync(reqPath) ? readFileSync(reqPath, 'utf8') : '',
  );
  const hasPython = flow.kind === 'flex' || (flow.kind === 'dag' && flow.nodes.some((n) => n.type === 'python'));

  const app = path.join(out, 'app');
  // The entry becomes app/dist/cli.js whatever its name (start.sh runs that); its chunks keep their paths.
  cliFiles.forEach((rel, i) =>
    cpSync(path.join(path.dirname(cli), rel), path.join(app, 'dist', i === 0 ? 'cli.js' : rel)),
  );
  for (const rel of ['package.json', 'src/shared/engine/python', 'schemas']) {
    const from = path.join(root, rel);
    if (existsSync(from))
      cpSync(from, path.join(app, rel), { recursive: true, filter: (src) => !src.endsWith('__pycache__') });
  }
  const target = flow.kind === 'prompty' ? `/flow/${flowFile}` : '/flow';
  const conns = connections.length > 0 ? ' --connections /connections' : '';
  writeFileSync(
    path.join(out, 'start.sh'),
    `#!/bin/sh\n# Generated by llmops flow build-context: serves the flow on 0.0.0.0:$PORT.\nexec node /app/dist/cli.js flow serve ${target} --host 0.0.0.0 --port "\${PORT:-8080}"${conns} "$@"\n`,
    { mode: 0o755 },
  );
  cpSync(assetPath('docker/serve.Dockerfile'), path.join(out, 'Dockerfile'));
  writeFileSync(path.join(out, 'README.md'), readme(flow, settings));
  return { dir: out, settings, selection: flow.kind === 'dag' ? flow.selection : {}, hasPython };
}

/** The DAG as written, with each use_variants node replaced by its selected variant and node_variants dropped. */
function snapshotDag(flow: Extract<LoadedFlow, { kind: 'dag' }>): Record<string, unknown> {
  const raw = { ...flow.raw };
  const variants = (raw.node_variants ?? {}) as Record<
    string,
    { variants?: Record<string, { node?: Record<string, unknown> }> }
  >;
  raw.nodes = ((raw.nodes ?? []) as Record<string, unknown>[]).map((n) => {
    if (n.use_variants !== true) return n;
    const name = String(n.name);
    const body = variants[name]?.variants?.[flow.selection[name]]?.node ?? {};
    return { name, ...body };
  });
  delete raw.node_variants;
  return raw;
}

function connectionYaml(c: Connection, settings: string[]): Record<string, unknown> {
  const type = SNAKE_TYPE[c.type] ?? 'custom';
  const doc: Record<string, unknown> = { name: c.name, type };
  const secret = (k: string) => {
    const v = connectionOverrideName(c.name, k);
    settings.push(v);
    return `\${env:${v}}`;
  };
  if (type === 'custom') {
    doc.configs = Object.fromEntries(Object.entries(c.value).filter(([k]) => !c.secretKeys.includes(k)));
    doc.secrets = Object.fromEntries(c.secretKeys.map((k) => [k, secret(k)]));
  } else {
    for (const [k, v] of Object.entries(c.value)) doc[k] = c.secretKeys.includes(k) || k === 'api_key' ? secret(k) : v;
  }
  return doc;
}

function requirementsFile(flow: LoadedFlow): string | undefined {
  if (flow.kind === 'prompty' || flow.kind === 'http') return undefined;
  const env = flow.environment as { python_requirements_txt?: unknown } | undefined;
  if (typeof env?.python_requirements_txt === 'string') return env.python_requirements_txt;
  return readdirSync(flow.workingDir).includes('requirements.txt') ? 'requirements.txt' : undefined;
}

function readme(flow: LoadedFlow, settings: string[]): string {
  const envFlags = settings.map((s) => ` -e ${s}=...`).join('');
  return `# ${flow.name}: docker build context

Generated by \`llmops flow build-context\`. Build and run:

\`\`\`sh
docker build -t ${flow.name.toLowerCase().replace(/[^a-z0-9_.-]/g, '-')} .
docker run -p 8080:8080${envFlags} ${flow.name.toLowerCase().replace(/[^a-z0-9_.-]/g, '-')}
curl -s http://localhost:8080/health
curl -s http://localhost:8080/score -H 'content-type: application/json' -d '{...flow inputs...}'
\`\`\`

Environment: ${settings.length ? settings.map((s) => `\`${s}\``).join(', ') : 'no connection secrets'}; \`PF_FLOW_INIT_CONFIG\` (flex init, JSON);
\`LLMOPS_API_KEY\` (optional: requires \`Authorization: Bearer <key>\` on /score and /metrics);
telemetry (optional, off unless set): \`OTEL_EXPORTER_OTLP_ENDPOINT\` (OTLP/HTTP), \`OTEL_EXPORTER_OTLP_HEADERS\`,
\`OTEL_SERVICE_NAME\`, \`OTEL_RESOURCE_ATTRIBUTES\`, \`APPLICATIONINSIGHTS_CONNECTION_STRING\` (Azure Monitor).
`;
}

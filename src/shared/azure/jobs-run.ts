/**
 * A plan's shards as Azure ML command jobs (execution.target azure): the use case and the plan go up as a
 * code snapshot, each shard runs `llmops run-shard` in our CLI image on serverless compute (or the named
 * cluster / Kubernetes compute) and writes a run store into its output folder on the datastore; each
 * finished shard's records are downloaded and merged once into the local run store. A job that failed
 * without its shard's own verdict (no `shard.json` in its output: the machine, image or storage failed, not
 * the flow) is submitted again; one that failed with it fails the step with its log tail. SIGINT, SIGTERM
 * or the step's own abort cancel every job still running. Finished shards are kept in `cloud-jobs.json`
 * beside the plan, so a resumed step submits only the others.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { UseCase } from '../config/types.js';
import { Canceled, ConfigError, ServiceError } from '../errors.js';
import { onCancelSignal } from '../cancel-signal.js';
import { writeJsonAtomic } from '../files.js';
import type { Host } from '../host/host.js';
import { shardPlan, type ExperimentPlan } from '../runs/plan.js';
import { RunStore } from '../runs/store.js';
import { blobNamesUnder, downloadFile, openDatastore, type DatastoreContainer } from './blob.js';
import { connectionMap, KEY_VAULT_SECRETS_VARIABLE, WORKSPACE_CONNECTIONS_VARIABLE } from './jobs-connections.js';
import { mergeShardStore } from './jobs-merge.js';
import { describeShare, nextShare, quotaOf, shareArgs, type RateShare } from './jobs-quota.js';
import { SNAPSHOT_PLAN, snapshotOf, uploadSnapshot, type SnapshotFile } from './jobs-snapshot.js';
import { FINISHED_JOB_STATES, MlJobs, type CommandJobSpec } from './jobs.js';
import type { CloudSettings } from './jobs-settings.js';
import type { MlWorkspace } from './workspace.js';

/** The verdict a shard's run-shard writes into its output when it ends (absent: the job never got that far). */
export const SHARD_VERDICT = 'shard.json';

export interface ShardVerdict {
  shard: string;
  ok: boolean;
  exitCode: number;
  error?: string;
}

export interface CloudRunOptions {
  /** The workspace, signed in on first use (a dry run never signs in). */
  ws: () => Promise<MlWorkspace>;
  /** ARM id of the workspace (compute ids are under it). */
  workspaceId: string;
  cloud: CloudSettings;
  useCase: Pick<UseCase, 'name' | 'envName' | 'configFile' | 'baseDir' | 'connections' | 'datasets'> & {
    /** The model's quota the jobs share (execution.requests_per_minute / tokens_per_minute). */
    execution?: RateShare;
  };
  /** What the shards do: a bulk-run's plan or an evaluate's evaluation jobs. */
  work: CloudWork;
  storeRoot: string;
  host: Host;
  /**
   * Lines in flight across all shards (the experiment's concurrency: what the model's quota takes at once);
   * each job gets its share, and its adaptive limiter still backs off on a 429 of the shared quota.
   */
  concurrency: number;
  /** The step's abort (cancels the jobs too). */
  signal?: AbortSignal;
  /** Between two reads of a job's status (default 15 s; tests: less). */
  pollMs?: number;
  /** Submissions of one shard whose jobs failed for infrastructure reasons (default 3). */
  attempts?: number;
  dryRun?: boolean;
}

interface ShardState {
  index: number;
  job?: string;
  attempt: number;
  merged: boolean;
  /** The share of the model's quota the current job was given. */
  share?: RateShare;
}

interface CloudState {
  /** Makes job names unique in the workspace (two plans of one build), kept so a resume follows its jobs. */
  token: string;
  build?: string;
  count: number;
  runs: string[];
  shards: ShardState[];
}

/** The work of a step cut into shards: each shard's lines and the runs it writes, and what its jobs need. */
export interface CloudWork {
  step: 'bulk-run' | 'evaluate';
  experiment: string;
  env?: string;
  build?: string;
  /** Every run the work writes, in order (a saved state of other work is not followed). */
  runIds: string[];
  shards: { lines: number; runIds: string[] }[];
  /** Files the snapshot carries beside the use case, and the run-shard arguments naming them. */
  files: SnapshotFile[];
  args: string[];
  /** The data files of each run on this machine, for run.json. */
  localData?: Record<string, string[]>;
  /** Where the submitted jobs and finished shards are kept, for a resume. */
  stateFile: string;
}

/** How many shards: one per `linesPerShard` lines, at least one, at most maxShards. */
export function shardCount(lines: number, cloud: CloudSettings): number {
  return Math.max(1, Math.min(cloud.maxShards, Math.ceil(lines / cloud.linesPerShard)));
}

/**
 * A bulk-run's plan as cloud work: its shards as shardPlan cuts them, the plan in the snapshot. With `repeat: K`
 * a data line's K repetitions stay in one shard (shards cut data lines), and a shard counts K lines per data line.
 */
export function bulkRunWork(
  plan: ExperimentPlan,
  planFile: string,
  cloud: CloudSettings,
  repeatOf: (dataset: string) => number = () => 1,
): CloudWork {
  const repeats = new Map(plan.runs.map((r) => [r.runId, repeatOf(r.dataset)]));
  const dataLines = plan.runs.reduce(
    (n, r) => n + (r.lineRange ? r.lineRange.end - r.lineRange.start : (r.lines ?? 0)),
    0,
  );
  const lines = plan.runs.reduce(
    (n, r) => n + (r.lineRange ? r.lineRange.end - r.lineRange.start : (r.lines ?? 0)) * repeats.get(r.runId)!,
    0,
  );
  const shards = shardPlan(plan, Math.max(1, Math.min(dataLines, shardCount(lines, cloud))));
  return {
    step: 'bulk-run',
    experiment: plan.experiment,
    env: plan.env,
    build: plan.build,
    runIds: plan.runs.map((r) => r.runId),
    shards: shards.map((s) => ({
      lines: s.pieces.reduce((n, p) => n + (p.end - p.start) * repeats.get(p.runId)!, 0),
      runIds: [...new Set(s.pieces.map((p) => p.runId))],
    })),
    files: [{ name: SNAPSHOT_PLAN, file: planFile }],
    args: [`--plan ${SNAPSHOT_PLAN}`],
    stateFile: path.join(path.dirname(planFile), 'cloud-jobs.json'),
    localData: Object.fromEntries(plan.runs.filter((r) => r.dataFile).map((r) => [r.runId, [r.dataFile!]])),
  };
}

/**
 * A pool whose endpoints hold different keys cannot be filled from one workspace connection (it holds one key):
 * refused before any job starts, naming what to write instead.
 */
function unreachablePool(
  useCase: CloudRunOptions['useCase'],
  connections: Record<string, string | string[]>,
  cloud: CloudSettings,
): void {
  for (const c of useCase.connections) {
    const mapped = connections[c.name];
    if (!c.endpoints || typeof mapped !== 'string') continue;
    const keys = new Set(
      c.endpoints
        .map((e) => e.variables?.api_key ?? e.variables?.key)
        .filter((v): v is string => v !== undefined && cloud.keyVaultSecrets[v] === undefined),
    );
    if (keys.size > 1)
      throw ConfigError.at(
        { file: path.relative(process.cwd(), useCase.configFile) },
        `connection ${c.name} is a model pool whose ${c.endpoints.length} endpoints read their keys from ${[...keys].join(', ')}, but a cloud job fills it from one workspace connection ("${mapped}"), which holds one key; expected azure.connections.${c.name} to list one workspace connection per endpoint, or azure.key_vault_secrets to name a Key Vault secret for each of those variables`,
      );
  }
}

/** Job name of one attempt of one shard: unique per plan build, readable in the studio. */
function jobName(work: CloudWork, token: string, index: number, count: number, attempt: number): string {
  const base =
    `${work.experiment}${work.env ? `-${work.env}` : ''}-${work.step === 'evaluate' ? 'eval-' : ''}${work.build ?? 'build'}`
      .replace(/[^a-zA-Z0-9_-]/g, '-')
      .slice(0, 200);
  return `${base}-${token}-shard${index + 1}of${count}${attempt > 1 ? `-try${attempt}` : ''}`;
}

/** Submits the plan's shards, waits for them, merges each into the local store. Returns the shard count. */
export async function runPlanOnAzure(o: CloudRunOptions): Promise<number> {
  const { cloud, work, host } = o;
  const statePath = work.stateFile;
  const shards = work.shards;
  let mergeQueue: Promise<void> = Promise.resolve();
  const count = shards.length;
  const state = readState(statePath, work, count);
  const configName = path.relative(o.useCase.baseDir, o.useCase.configFile).split(path.sep).join('/');
  for (const d of o.useCase.datasets)
    if (d.localPath && path.relative(o.useCase.baseDir, d.localPath).startsWith('..'))
      throw ConfigError.at(
        { file: path.relative(process.cwd(), o.useCase.configFile) },
        `dataset ${d.name}: ${d.source} lies outside the use case folder ${path.relative(process.cwd(), o.useCase.baseDir) || '.'}, which is what a cloud job receives; expected a file inside it or an azureml: data asset`,
      );
  // Connections come from workspace connections (named, or of the same name), unless only Key Vault is configured.
  const keyVaultOnly = !cloud.connectionsMapped && Object.keys(cloud.keyVaultSecrets).length > 0;
  const connections = keyVaultOnly
    ? {}
    : connectionMap(
        o.useCase.connections.map((c) => c.name),
        cloud.connections,
      );
  unreachablePool(o.useCase, connections, cloud);
  const computeId = cloud.compute ? `${o.workspaceId}/computes/${encodeURIComponent(cloud.compute)}` : undefined;
  const environmentVariables: Record<string, string> = {
    ...(Object.keys(connections).length ? { [WORKSPACE_CONNECTIONS_VARIABLE]: JSON.stringify(connections) } : {}),
    // References only: the job reads the values with its identity.
    ...(Object.keys(cloud.keyVaultSecrets).length
      ? { [KEY_VAULT_SECRETS_VARIABLE]: JSON.stringify(cloud.keyVaultSecrets) }
      : {}),
    // The job signs in with its compute's managed identity, never with a secret of ours.
    LLMOPS_AZURE_AUTH: 'msi',
  };
  const outputPath = (name: string) => `llmops/jobs/${name}/`;
  const perShard = cloud.concurrencyPerShard ?? Math.max(1, Math.ceil(o.concurrency / count));
  const quota = quotaOf(o.useCase.execution);
  // The share a shard's next job gets, from what the jobs running now leave free (jobs-quota.ts).
  const shareFor = (s: ShardState): RateShare | undefined => {
    if (!quota) return undefined;
    const running = state.shards.filter((x) => x !== s && x.job && !x.merged);
    const waiting = state.shards.filter((x) => x === s || (!x.job && !x.merged)).length;
    return nextShare(
      quota,
      running.map((x) => x.share ?? nextShare(quota, [], count)),
      waiting,
    );
  };
  const command = (index: number, share: RateShare | undefined) =>
    [
      'llmops run-shard',
      ...(work.step === 'evaluate' ? ['--step evaluate'] : []),
      `--config ${configName}`,
      o.useCase.envName ? `--env ${o.useCase.envName}` : '',
      ...work.args,
      `--shard ${index + 1}/${count}`,
      `--concurrency ${perShard}`,
      ...shareArgs(share),
      '--output ${{outputs.store}}',
    ]
      .filter(Boolean)
      .join(' ');
  const pending = state.shards.filter((s) => !s.merged);
  host.info(
    `azure: ${count} shard(s) of ${shards.reduce((n, s) => n + s.lines, 0)} line(s) as command jobs on ${cloud.compute ? `compute ${cloud.compute}` : 'serverless compute'}, concurrency ${perShard} per shard${quota ? `, the model's quota (${describeShare(quota)}) shared among the running jobs` : ''}, image ${cloud.image}${pending.length < count ? `; ${count - pending.length} shard(s) finished earlier are kept` : ''}`,
  );
  if (o.dryRun) {
    for (const s of pending) {
      const share = shareFor(s);
      // As the real submission does: this shard now counts as running with its share.
      s.job = 'dry-run';
      s.share = share;
      host.info(
        `  would submit job ${jobName(work, state.token, s.index, count, 1)}: ${command(s.index, share)} (${shards[s.index].lines} line(s); variables ${Object.keys(environmentVariables).join(', ')})`,
      );
    }
    return count;
  }
  if (pending.length === 0) return count;

  const ws = await o.ws();
  const jobs = new MlJobs(ws);
  const datastore = await openDatastore(ws, await ws.datastore());
  const snapshot = snapshotOf(o.useCase.baseDir, work.files, [o.storeRoot]);
  const uploaded = await uploadSnapshot(datastore, snapshot, 'code');
  host.info(
    `azure: code snapshot ${snapshot.hash.slice(0, 12)} (${snapshot.files.length} file(s), ${uploaded.uploaded} uploaded)`,
  );
  const codeUri = `${datastore.accountUrl}/${datastore.datastore.properties.containerName}/${uploaded.prefix}`;
  const codeId = await jobs.codeVersion(safeName(work.experiment), snapshot.hash, codeUri);
  const environmentId = await jobs.environmentVersion('llmops-cli', imageVersion(cloud.image), cloud.image);
  const spec = (index: number, name: string, share: RateShare | undefined): CommandJobSpec => ({
    displayName: `${work.experiment} ${work.step} shard ${index + 1}/${count}`,
    experimentName: safeName(work.experiment),
    codeId,
    command: command(index, share),
    environmentId,
    environmentVariables,
    computeId,
    instanceType: cloud.instanceType,
    outputUri: `azureml://datastores/${datastore.datastore.name}/paths/${outputPath(name)}`,
    tags: { llmops_shard: `${index + 1}/${count}`, llmops_build: work.build ?? '' },
  });

  // Every job this session submitted and has not seen finish: what a cancel must stop.
  const running = new Set<string>();
  const stop = new AbortController();
  // A CI cancel arrives as SIGINT/SIGTERM; the jobs must not keep running (and billing) after the step ends.
  const stopListening = onCancelSignal((sig) => {
    host.warning(`azure: ${sig} received, canceling ${running.size} job(s)`);
    stop.abort(new Canceled(sig, `bulk-run on azure was canceled (${sig}); its jobs were canceled`));
  });
  const onAbort = () => stop.abort(o.signal?.reason);
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const local = new RunStore(o.storeRoot);
  let finished = count - pending.length;
  const runShard = async (s: ShardState) => {
    const label = `shard ${s.index + 1}/${count}`;
    const maxAttempts = o.attempts ?? 3;
    for (;;) {
      if (stop.signal.aborted) return;
      const name = s.job && !s.merged ? s.job : jobName(work, state.token, s.index, count, s.attempt || 1);
      const followed = Boolean(s.job);
      if (!s.job) {
        s.attempt = s.attempt || 1;
        s.share = shareFor(s);
        s.job = name;
        writeJsonAtomic(statePath, state);
        await jobs.submit(name, spec(s.index, name, s.share));
        host.info(`azure: ${label}: submitted job ${name}${s.share ? ` (${describeShare(s.share)})` : ''}`);
      } else host.info(`azure: ${label}: following job ${name} submitted earlier`);
      running.add(name);
      const status = await waitForJob(jobs, name, label, host, o.pollMs ?? 15_000, stop.signal);
      // A job left by an abort is still running in Azure: it stays in the set the cancel goes through.
      if (FINISHED_JOB_STATES.has(status)) running.delete(name);
      if (stop.signal.aborted) return;
      const verdict = await readVerdict(datastore, outputPath(name));
      if (status === 'Completed' && verdict?.ok) {
        const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-shard-'));
        try {
          await downloadFolder(datastore, outputPath(name), dir);
          // One merge at a time: shards write the same runs, and a merge reads and rewrites their run.json.
          const merging = mergeQueue.then(() =>
            mergeShardStore(dir, local, shards[s.index].runIds, `${label} (job ${name})`, work.localData),
          );
          mergeQueue = merging.then(
            () => undefined,
            () => undefined,
          );
          const merged = await merging;
          s.merged = true;
          writeJsonAtomic(statePath, state);
          finished++;
          host.info(
            `azure: ${label} merged: ${merged.map((m) => `${m.runId} +${m.added}${m.skipped ? ` (${m.skipped} already recorded)` : ''}`).join(', ')}; ${finished}/${count} shard(s) done`,
          );
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
        return;
      }
      const tail = await logTail(datastore, name);
      if (tail) host.info(`azure: ${label}: last lines of job ${name}'s log:\n${tail}`);
      if (status === 'Canceled' && followed) {
        // Canceled with the session that submitted it (or in the studio): the resumed step runs the shard again.
        host.info(`azure: ${label}: job ${name} of an earlier session was canceled; submitting the shard again`);
        s.attempt++;
        s.job = undefined;
        writeJsonAtomic(statePath, state);
        continue;
      }
      if (status === 'Canceled') throw new ServiceError(`Azure ML: job ${name} (${label}) was canceled in Azure`);
      if (verdict && !verdict.ok) {
        // The flow, the data or the configuration failed inside the job: running it again would fail again.
        const message = `${label} (job ${name}) failed: ${verdict.error ?? 'see its log above'}`;
        // The job's own exit code says whose the failure is: the experiment's (2) or a service's (3).
        if (verdict.exitCode === 2) throw ConfigError.at({ file: `job ${name}` }, message);
        throw new ServiceError(`Azure ML: ${message}`);
      }
      if (s.attempt >= maxAttempts)
        throw new ServiceError(
          `Azure ML: ${label} failed ${s.attempt} time(s) for infrastructure reasons (job ${name} ended ${status}); last log lines above`,
        );
      host.warning(
        `azure: ${label}: job ${name} ended ${status} before the shard finished (infrastructure); submitting it again (attempt ${s.attempt + 1} of ${maxAttempts})`,
      );
      s.attempt++;
      s.job = undefined;
      writeJsonAtomic(statePath, state);
    }
  };
  try {
    const results = await Promise.allSettled(pending.map((s) => runShard(s)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed && !stop.signal.aborted) stop.abort(failed.reason);
    if (stop.signal.aborted) {
      await cancelAll(jobs, running, host);
      throw stop.signal.reason instanceof Error ? stop.signal.reason : (failed?.reason ?? new ServiceError('canceled'));
    }
  } finally {
    stopListening();
    o.signal?.removeEventListener('abort', onAbort);
  }
  return count;
}

async function cancelAll(jobs: MlJobs, names: Set<string>, host: Host): Promise<void> {
  await Promise.all(
    [...names].map(async (name) => {
      try {
        await jobs.cancel(name);
        host.info(`azure: canceled job ${name}`);
      } catch (e) {
        host.warning(`azure: could not cancel job ${name}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }),
  );
}

async function waitForJob(
  jobs: MlJobs,
  name: string,
  label: string,
  host: Host,
  pollMs: number,
  signal: AbortSignal,
): Promise<string> {
  let last = '';
  for (;;) {
    const job = await jobs.get(name);
    const status = job.properties.status ?? 'Unknown';
    if (status !== last) host.info(`azure: ${label}: ${status}`);
    last = status;
    if (FINISHED_JOB_STATES.has(status)) return status;
    if (signal.aborted) return status;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, pollMs);
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          resolve();
        },
        { once: true },
      );
    });
    if (signal.aborted) return status;
  }
}

async function readVerdict(store: DatastoreContainer, prefix: string): Promise<ShardVerdict | undefined> {
  const names = await blobNamesUnder(store, prefix);
  if (!names.has(`${prefix}${SHARD_VERDICT}`)) return undefined;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-verdict-'));
  try {
    const file = path.join(dir, SHARD_VERDICT);
    await downloadFile(store, `${prefix}${SHARD_VERDICT}`, file);
    return JSON.parse(readFileSync(file, 'utf8')) as ShardVerdict;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function downloadFolder(store: DatastoreContainer, prefix: string, dir: string): Promise<void> {
  for (const name of await blobNamesUnder(store, prefix)) {
    const rel = name.slice(prefix.length);
    if (!rel || rel.split('/').includes('..')) continue;
    const file = path.join(dir, ...rel.split('/'));
    mkdirSync(path.dirname(file), { recursive: true });
    await downloadFile(store, name, file);
  }
}

/** Last lines of a job's user log, where Azure ML keeps it (`ExperimentRun/dcid.<job>/user_logs/std_log.txt`). */
async function logTail(store: DatastoreContainer, job: string, lines = 20): Promise<string | undefined> {
  const blob = `ExperimentRun/dcid.${job}/user_logs/std_log.txt`;
  try {
    if (!(await blobNamesUnder(store, blob)).has(blob)) return undefined;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'llmops-log-'));
    try {
      await downloadFile(store, blob, path.join(dir, 'log'));
      return readFileSync(path.join(dir, 'log'), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } catch {
    return undefined;
  }
}

function readState(file: string, work: CloudWork, count: number): CloudState {
  const runs = work.runIds;
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as CloudState;
    if (saved.count === count && saved.build === work.build && JSON.stringify(saved.runs) === JSON.stringify(runs))
      return saved;
  }
  return {
    token: randomBytes(3).toString('hex'),
    build: work.build,
    count,
    runs,
    shards: Array.from({ length: count }, (_, index) => ({ index, attempt: 0, merged: false })),
  };
}

function safeName(s: string): string {
  return s.replace(/[^a-zA-Z0-9_-]/g, '-').replace(/^[^a-zA-Z0-9]+/, '') || 'llmops';
}

/** Environment version of an image reference: its tag or digest made a valid version. */
export function imageVersion(image: string): string {
  const tag = /@sha256:([0-9a-f]{12})/.exec(image)?.[1] ?? /:([^/:@]+)$/.exec(image)?.[1] ?? 'latest';
  return tag.replace(/[^a-zA-Z0-9._-]/g, '-');
}

/**
 * The Host on a GitHub runner: inputs from INPUT_<NAME> (hyphens kept),
 * step outputs, annotations on the user's files, the job summary, artifacts, failure with
 * our exit code, the OIDC token for Azure, and one upserted pull-request comment.
 * Everything shown is redacted here too, not only by the runner's masking, so the contract
 * holds under @github/local-action and in the outputs file the runner does not mask.
 * Workflow and file commands are written by ./github-commands.ts; @actions/core (which loads an
 * HTTP stack at import) only on demand, for the job summary and the OIDC token.
 * @module
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AzureAuthSource } from '../azure/credentials.js';
import { type ExitCode, formatLocation, type SourceLocation } from '../errors.js';
import * as commands from './github-commands.js';
import { type Host, redact } from './host.js';

/** The UI shows about 10 annotations of each kind per step (community discussions #26680, #68471). */
export const ANNOTATION_LIMIT = 10;
/** $GITHUB_STEP_SUMMARY is rejected above 1 MiB; keep room for other steps of the job. */
export const SUMMARY_LIMIT_BYTES = 1_000_000;
/** GitHub rejects issue comments above 65,536 characters. */
export const COMMENT_LIMIT = 65_000;

type Kind = 'warning' | 'error';

export class GitHubHost implements Host {
  readonly kind = 'github' as const;
  readonly interactive = false;
  readonly outputs = new Map<string, string>();
  private readonly secrets = new Set<string>();
  private readonly annotated: Record<Kind, number> = { warning: 0, error: 0 };
  private readonly overflow: Record<Kind, number> = { warning: 0, error: 0 };
  private summaryBytes = 0;

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  getInput(name: string): string | undefined {
    const value = commands.getInput(name, this.env);
    return value === '' ? undefined : value;
  }
  setOutput(name: string, value: string): void {
    const safe = this.redact(value);
    this.outputs.set(name, safe);
    commands.setOutput(name, safe, this.env);
  }
  info(message: string): void {
    commands.info(this.redact(message));
  }
  debug(message: string): void {
    commands.debug(this.redact(message));
  }
  warning(message: string, at?: SourceLocation): void {
    this.annotate('warning', message, at);
  }
  error(message: string, at?: SourceLocation): void {
    this.annotate('error', message, at);
  }
  mask(secret: string): void {
    if (!secret) return;
    this.secrets.add(secret);
    commands.setSecret(secret);
  }

  async appendSummary(markdown: string): Promise<void> {
    if (!this.env.GITHUB_STEP_SUMMARY) {
      commands.debug('no job summary: GITHUB_STEP_SUMMARY is not set');
      return;
    }
    let text = this.redact(markdown);
    const room = SUMMARY_LIMIT_BYTES - this.summaryBytes;
    if (room <= 0) return;
    if (Buffer.byteLength(text) > room) {
      const note = '\n\n_(summary truncated at 1 MB: the full report is in the artifact)_\n';
      text =
        Buffer.from(text)
          .subarray(0, Math.max(0, room - note.length))
          .toString('utf8')
          .replace(/\uFFFD$/, '') + note;
    }
    this.summaryBytes += Buffer.byteLength(text);
    const { summary } = await import('@actions/core');
    await summary.addRaw(text).write();
  }

  async uploadArtifact(name: string, files: string[], rootDirectory: string): Promise<void> {
    try {
      // Loaded on demand: the artifact client is large and most steps never upload.
      const { DefaultArtifactClient } = await import('@actions/artifact');
      await new DefaultArtifactClient().uploadArtifact(name, files, rootDirectory);
    } catch (e) {
      // The report already exists on disk; a lost upload must not fail the quality verdict.
      this.warning(`artifact "${name}" was not uploaded: ${(e as Error).message}`);
    }
  }

  fail(message: string, exitCode: ExitCode): void {
    commands.annotate('error', this.redact(message));
    process.exitCode = exitCode;
  }

  /** Say how many annotations the UI could not show. Called once, when the step ends. */
  finish(): void {
    for (const kind of ['error', 'warning'] as const) {
      const n = this.overflow[kind];
      if (n > 0)
        commands.annotate(
          kind,
          `${n} more ${kind}${n === 1 ? ' was' : 's were'} not annotated (GitHub shows ${ANNOTATION_LIMIT} per step); see the step log.`,
        );
    }
  }

  async publishComment(markdown: string, marker: string): Promise<void> {
    const token = this.getInput('github-token');
    if (!token) {
      this.warning('no pull-request comment: the github-token input is empty');
      return;
    }
    const result = await postPrComment({ token, markdown: this.redact(markdown), marker, env: this.env });
    if (result.action === 'skipped') this.info(`pull-request comment skipped: ${result.reason}`);
    else this.info(`pull-request comment ${result.action}: ${result.url ?? result.id}`);
  }

  azureAuth(): AzureAuthSource {
    const canAskOidc = Boolean(this.env.ACTIONS_ID_TOKEN_REQUEST_URL && this.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN);
    return {
      override: this.getInput('azure-auth'),
      tenantId: this.getInput('azure-tenant-id'),
      clientId: this.getInput('azure-client-id'),
      // Asked again on every token refresh: the runner's OIDC token expires after ~10 minutes.
      getFederatedToken: canAskOidc
        ? async () => (await import('@actions/core')).getIDToken('api://AzureADTokenExchange')
        : undefined,
    };
  }

  private annotate(kind: Kind, message: string, at?: SourceLocation): void {
    const text = this.redact(message);
    // The location is user data too: a path can quote a secret.
    const file = at ? this.redact(this.relative(at.file)) : undefined;
    const plain = at ? `${formatLocation({ ...at, file: file! })}: ${text}` : text;
    if (this.annotated[kind] >= ANNOTATION_LIMIT) {
      this.overflow[kind]++;
      commands.info(`${kind}: ${plain}`);
      return;
    }
    this.annotated[kind]++;
    if (at?.line !== undefined)
      commands.annotate(kind, text, { file, startLine: at.line, startColumn: at.column, title: `llmops: ${file}` });
    else commands.annotate(kind, plain);
  }

  /** Annotations need paths relative to the repository root. */
  private relative(file: string): string {
    const root = this.env.GITHUB_WORKSPACE;
    if (!root || !path.isAbsolute(file)) return file;
    const rel = path.relative(root, file);
    return rel.startsWith('..') ? file : rel.split(path.sep).join('/');
  }

  private redact(text: string): string {
    return redact(text, this.secrets);
  }
}

export interface PrCommentRequest {
  token: string;
  markdown: string;
  /** Identifies the comment to update: `<!-- llmops-report:<marker> -->`. */
  marker: string;
  env?: NodeJS.ProcessEnv;
}

export type PrCommentResult =
  { action: 'created' | 'updated'; id: number; url?: string } | { action: 'skipped'; reason: string };

/** The hidden line that identifies our comment among the others on the pull request. */
export const commentMarker = (marker: string): string => `<!-- llmops-report:${marker.replace(/--+/g, '-')} -->`;

/**
 * Create, or update in place, the one comment carrying `marker` on the pull request of the
 * current event (pull_request, pull_request_target, or an issue_comment on a pull request).
 */
export async function postPrComment(req: PrCommentRequest): Promise<PrCommentResult> {
  const env = req.env ?? process.env;
  const [owner, repo] = (env.GITHUB_REPOSITORY ?? '').split('/');
  const number = pullRequestNumber(env.GITHUB_EVENT_PATH);
  if (!owner || !repo) return { action: 'skipped', reason: 'GITHUB_REPOSITORY is not set' };
  if (number === undefined) return { action: 'skipped', reason: 'this event is not about a pull request' };
  const { getOctokit } = await import('@actions/github');
  const octokit = getOctokit(req.token, { baseUrl: env.GITHUB_API_URL ?? 'https://api.github.com' });
  const tag = commentMarker(req.marker);
  let markdown = req.markdown;
  if (markdown.length > COMMENT_LIMIT)
    markdown =
      markdown.slice(0, COMMENT_LIMIT) + '\n\n_(truncated: the full report is in the job summary and the artifact)_';
  const body = `${tag}\n${markdown}`;
  const comments = await octokit.paginate('GET /repos/{owner}/{repo}/issues/{issue_number}/comments', {
    owner,
    repo,
    issue_number: number,
    per_page: 100,
  });
  const mine = comments.find((c) => typeof c.body === 'string' && c.body.includes(tag));
  if (mine) {
    const res = await octokit.request('PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}', {
      owner,
      repo,
      comment_id: mine.id,
      body,
    });
    return { action: 'updated', id: Number(res.data.id), url: res.data.html_url };
  }
  const res = await octokit.request('POST /repos/{owner}/{repo}/issues/{issue_number}/comments', {
    owner,
    repo,
    issue_number: number,
    body,
  });
  return { action: 'created', id: Number(res.data.id), url: res.data.html_url };
}

function pullRequestNumber(eventPath: string | undefined): number | undefined {
  if (!eventPath) return undefined;
  try {
    const event = JSON.parse(readFileSync(eventPath, 'utf8')) as {
      pull_request?: { number?: number };
      issue?: { number?: number; pull_request?: unknown };
    };
    if (typeof event.pull_request?.number === 'number') return event.pull_request.number;
    if (event.issue?.pull_request && typeof event.issue.number === 'number') return event.issue.number;
  } catch {
    return undefined;
  }
  return undefined;
}

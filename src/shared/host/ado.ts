/**
 * The Host on an Azure Pipelines agent, over azure-pipelines-task-lib: task inputs (camelCase
 * names of our kebab-case declarations), output variables, `task.logissue` with file, line
 * and column, secrets, the Markdown summary tab, artifacts and the task result.
 * @module
 */
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as im from 'azure-pipelines-task-lib/internal.js';
import * as tl from 'azure-pipelines-task-lib/task.js';
import type { AzureAuthSource } from '../azure/credentials.js';
import { type ExitCode, formatLocation, type SourceLocation } from '../errors.js';
import { camel } from '../steps/declare.js';
import { type Host, redact } from './host.js';

/** The task input holding the AzureRM service connection id (task.json `connectedService:AzureRM`). */
export const SERVICE_CONNECTION_INPUT = 'azureSubscription';

export class AdoHost implements Host {
  readonly kind = 'ado' as const;
  readonly interactive = false;
  readonly outputs = new Map<string, string>();
  private readonly secrets = new Set<string>();
  private summary = '';
  private failed = false;

  /**
   * @param stepName names the summary tab and the staging folders.
   * @param readInput reads a task input by its task.json name (tests inject one: task-lib moves
   *   INPUT_* variables into its vault once, when it loads).
   */
  constructor(
    private readonly stepName: string,
    private readonly readInput: (name: string) => string | undefined = (name) => tl.getInput(name, false),
  ) {
    // Secret pipeline variables are masked by the agent in the log, but not in the output
    // variables and summary file we write: redact them ourselves too.
    for (const value of secretVariableValues()) this.secrets.add(value);
  }

  getInput(name: string): string | undefined {
    const value = this.readInput(camel(name));
    if (!value) return undefined;
    // The agent fills an empty filePath input with the sources folder: that means "not given".
    const sources = tl.getVariable('System.DefaultWorkingDirectory');
    if (sources && path.resolve(value) === path.resolve(sources)) return undefined;
    return value;
  }
  /** Output variable `<camelName>`, readable as `$(<stepRef>.<camelName>)` in later jobs and stages. */
  setOutput(name: string, value: string): void {
    const safe = this.redact(value);
    this.outputs.set(name, safe);
    tl.setVariable(camel(name), safe, false, true);
  }
  info(message: string): void {
    process.stdout.write(this.redact(message) + os.EOL);
  }
  debug(message: string): void {
    tl.debug(this.redact(message));
  }
  warning(message: string, at?: SourceLocation): void {
    this.issue(tl.IssueType.Warning, message, at);
  }
  error(message: string, at?: SourceLocation): void {
    this.issue(tl.IssueType.Error, message, at);
  }
  mask(secret: string): void {
    if (!secret) return;
    this.secrets.add(secret);
    tl.setSecret(secret);
  }

  /** Collected, then attached once by `finish()`: one summary tab per task. */
  async appendSummary(markdown: string): Promise<void> {
    this.summary += this.redact(markdown);
  }

  async uploadArtifact(name: string, files: string[], rootDirectory: string): Promise<void> {
    try {
      // artifact.upload takes one path: stage the files, keeping their layout under rootDirectory.
      const staging = mkdtempSync(path.join(this.tempDir(), `llmops-${name}-`));
      for (const file of files) {
        const rel = path.relative(rootDirectory, file);
        const target = path.join(staging, rel.startsWith('..') ? path.basename(file) : rel);
        mkdirSync(path.dirname(target), { recursive: true });
        copyFileSync(file, target);
      }
      tl.uploadArtifact(name, staging, name);
    } catch (e) {
      // The report already exists on disk; a lost upload must not fail the quality verdict.
      this.warning(`artifact "${name}" was not uploaded: ${(e as Error).message}`);
    }
  }

  fail(message: string, exitCode: ExitCode): void {
    this.failed = true;
    tl.setResult(tl.TaskResult.Failed, this.redact(message));
    process.exitCode = exitCode;
  }

  /** Attach the summary tab and mark success unless `fail` was called. Called once, when the step ends. */
  finish(): void {
    if (this.summary) {
      const file = path.join(this.tempDir(), `llmops-${this.stepName}-summary-${process.pid}.md`);
      writeFileSync(file, this.summary);
      tl.addAttachment('Distributedtask.Core.Summary', `LLMOps ${this.stepName}`, file);
    }
    if (!this.failed) tl.setResult(tl.TaskResult.Succeeded, `llmops ${this.stepName} succeeded`);
  }

  azureAuth(): AzureAuthSource {
    const connection = this.readInput(SERVICE_CONNECTION_INPUT);
    const source: AzureAuthSource = { override: this.getInput('azure-auth') };
    if (!connection) return source;
    const param = (key: string) => tl.getEndpointAuthorizationParameter(connection, key, true) || undefined;
    source.tenantId = param('tenantid');
    source.clientId = param('serviceprincipalid');
    switch (tl.getEndpointAuthorizationScheme(connection, true)?.toLowerCase()) {
      case 'workloadidentityfederation': {
        // The job token, without the user mapping System.AccessToken into env.
        const systemAccessToken =
          tl.getEndpointAuthorizationParameter('SystemVssConnection', 'AccessToken', false) ?? '';
        source.azurePipelines = { serviceConnectionId: connection, systemAccessToken };
        break;
      }
      case 'serviceprincipal':
        source.clientSecret = param('serviceprincipalkey');
        break;
      case 'managedserviceidentity':
        source.managedIdentity = true;
        break;
    }
    if (source.clientSecret) this.mask(source.clientSecret);
    return source;
  }

  private issue(type: tl.IssueType, message: string, at?: SourceLocation): void {
    const text = this.redact(message);
    // The location is user data too: a path can quote a secret.
    const file = at ? this.redact(at.file) : '';
    if (at?.line !== undefined) tl.logIssue(type, text, file, at.line, at.column);
    else tl.logIssue(type, at ? `${formatLocation({ ...at, file })}: ${text}` : text);
  }

  private tempDir(): string {
    return tl.getVariable('Agent.TempDirectory') || os.tmpdir();
  }

  private redact(text: string): string {
    return redact(text, this.secrets);
  }
}

/**
 * Values of the secret variables given to the task. Read from task-lib's vault directly:
 * `tl.getVariable` echoes every value to the debug stream, secrets included.
 */
function secretVariableValues(): string[] {
  const known = (im._knownVariableMap ?? {}) as Record<string, { name: string; secret: boolean }>;
  return Object.entries(known)
    .filter(([, info]) => info.secret)
    .map(([key]) => im._vault?.retrieveSecret(`SECRET_${key}`))
    .filter((v): v is string => Boolean(v));
}

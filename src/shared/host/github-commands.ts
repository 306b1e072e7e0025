/**
 * The runner's workflow commands (`::name key=value::message` on stdout) and file commands
 * (`$GITHUB_OUTPUT`), written the way @actions/core writes them. Hand-written because
 * @actions/core loads its HTTP stack (undici, about 0.8 MB) when imported, for `getIDToken`
 * and the summary, which most steps never call, and exports no lighter entry point: this keeps
 * a step's first log line within the cold-start budget. @actions/core itself is still used,
 * loaded on demand, for the job summary and the OIDC token.
 * Formats: docs.github.com "Workflow commands for GitHub Actions".
 * @module
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync } from 'node:fs';
import { EOL } from 'node:os';

export interface AnnotationProperties {
  title?: string;
  file?: string;
  startLine?: number;
  startColumn?: number;
}

type Properties = Record<string, string | number | undefined>;

/** `INPUT_<NAME>` (spaces as underscores, upper case), trimmed; '' when absent, as @actions/core. */
export function getInput(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return (env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] ?? '').trim();
}

/** Writes one workflow command line. */
export function issueCommand(
  command: string,
  properties: Properties,
  message: string,
  write: (text: string) => void = (t) => process.stdout.write(t),
): void {
  const props = Object.entries(properties)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${escapeProperty(String(v))}`)
    .join(',');
  write(`::${command}${props ? ` ${props}` : ''}::${escapeData(message)}${EOL}`);
}

export function info(message: string): void {
  process.stdout.write(message + EOL);
}

export function debug(message: string): void {
  issueCommand('debug', {}, message);
}

export function setSecret(secret: string): void {
  issueCommand('add-mask', {}, secret);
}

/** An error or warning annotation; the runner reads `line`/`col`, not @actions/core's property names. */
export function annotate(kind: 'error' | 'warning', message: string, at: AnnotationProperties = {}): void {
  issueCommand(kind, { title: at.title, file: at.file, line: at.startLine, col: at.startColumn }, message);
}

/** A step output: appended to `$GITHUB_OUTPUT` as a heredoc block with a random delimiter. */
export function setOutput(name: string, value: string, env: NodeJS.ProcessEnv = process.env): void {
  const file = env.GITHUB_OUTPUT;
  if (file) {
    if (!existsSync(file)) throw new Error(`the runner's output file ${file} does not exist`);
    const delimiter = `ghadelimiter_${randomUUID()}`;
    // A delimiter inside the name or value would end the block early: @actions/core refuses too.
    if (name.includes(delimiter) || value.includes(delimiter))
      throw new Error(`output ${name}: the value contains the delimiter`);
    appendFileSync(file, `${name}<<${delimiter}${EOL}${value}${EOL}${delimiter}${EOL}`, 'utf8');
    return;
  }
  process.stdout.write(EOL);
  issueCommand('set-output', { name }, value);
}

function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

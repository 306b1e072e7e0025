/**
 * A use case's redaction block put to work on what leaves the process besides its files: the host's log lines,
 * annotations and summaries, and the content telemetry captures. One redactor per set of kinds serves them all,
 * (redactor.ts's sharedRedactor).
 * @module
 */
import { ConfigError } from '../errors.js';
import { redactTelemetryContent } from '../telemetry/setup.js';
import { redactHostOutput } from './redacting-host.js';
import { ALL_PII_KINDS, sharedRedactor, unknownPiiKinds, type PiiKind, type Redactor } from './redactor.js';

/** Redacts `kinds` in everything `host` writes and in captured telemetry content, from now on. */
export function redactEverywhere(
  host: Parameters<typeof redactHostOutput>[0] | undefined,
  kinds: readonly PiiKind[],
): Redactor {
  const redactor = sharedRedactor(kinds);
  if (host) redactHostOutput(host, redactor);
  redactTelemetryContent(redactor.redact);
  return redactor;
}

/** The variable naming the PII kinds redacted where no use case says (`flow run`, a deployed `flow serve`). */
export const REDACT_PII_ENV = 'LLMOPS_REDACT_PII';

/**
 * The kinds `LLMOPS_REDACT_PII` names: a comma-separated list of PII kinds, or `all`; undefined when unset.
 * A name that is not a PII kind is a ConfigError (exit 2).
 */
export function redactionKindsFromEnv(env: NodeJS.ProcessEnv): PiiKind[] | undefined {
  const value = env[REDACT_PII_ENV]?.trim();
  if (!value) return undefined;
  if (value === 'all') return ALL_PII_KINDS;
  const kinds = value
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  const unknown = unknownPiiKinds(kinds);
  if (unknown.length || kinds.length === 0)
    throw ConfigError.at(
      { file: REDACT_PII_ENV },
      `found ${JSON.stringify(value)}, expected "all" or a comma-separated list of PII kinds from: ${ALL_PII_KINDS.join(', ')}`,
    );
  return kinds as PiiKind[];
}

/**
 * The services a safety built-in needs, built once per evaluation run from its options: the redactor for
 * `pii` (options.kinds, default every kind) and the Content Safety client when an endpoint is configured.
 */
import { ConfigError } from '../../errors.js';
import { contentSafetySettings, createContentSafety } from '../../safety/content-safety.js';
import { ALL_PII_KINDS, createRedactor, unknownPiiKinds, type PiiKind } from '../../safety/redactor.js';
import type { SafetyServices } from './safety-scorers.js';

const usesContentSafety = new Set(['content_safety', 'prompt_injection', 'jailbreak']);

export async function safetyServices(
  builtin: string,
  options: Record<string, unknown>,
  where: string,
): Promise<SafetyServices> {
  const services: SafetyServices = {};
  if (builtin === 'pii') services.redactor = createRedactor(piiKinds(options.kinds, `${where} options.kinds`));
  if (usesContentSafety.has(builtin)) {
    const settings = contentSafetySettings(options, `${where} options`);
    if (settings) services.contentSafety = await createContentSafety(settings);
  }
  return services;
}

/** A configured kinds list, checked: every entry one of the known PII kinds. */
export function piiKinds(kinds: unknown, where: string): PiiKind[] {
  if (kinds === undefined || kinds === null) return ALL_PII_KINDS;
  const list = Array.isArray(kinds) ? kinds : [kinds];
  const bad = list.filter((k) => typeof k !== 'string');
  const unknown = unknownPiiKinds(list.filter((k): k is string => typeof k === 'string'));
  if (bad.length || unknown.length || list.length === 0)
    throw ConfigError.at(
      { file: where },
      `found ${JSON.stringify(kinds)}, expected a list of PII kinds from: ${ALL_PII_KINDS.join(', ')}`,
    );
  return list as PiiKind[];
}

/**
 * The services a safety built-in needs, built once per evaluation run from its options: the redactor for
 * `pii` (options.kinds, default every kind) and the Content Safety client when an endpoint is configured.
 */
import { contentSafetySettings, createContentSafety } from '../../safety/content-safety.js';
import { createRedactor, piiKinds } from '../../safety/redactor.js';
import type { SafetyServices } from './safety-scorers.js';

const usesContentSafety = new Set(['content_safety', 'prompt_injection', 'jailbreak']);

export async function safetyServices(
  builtin: string,
  options: Record<string, unknown>,
  where: string,
): Promise<SafetyServices> {
  const services: SafetyServices = {};
  if (builtin === 'pii' || builtin === 'attack_success')
    services.redactor = createRedactor(piiKinds(options.kinds, `${where} options.kinds`));
  if (usesContentSafety.has(builtin)) {
    const settings = contentSafetySettings(options, `${where} options`);
    if (settings) services.contentSafety = await createContentSafety(settings);
  }
  return services;
}

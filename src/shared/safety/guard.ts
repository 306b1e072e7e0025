/**
 * Guards for `flow serve` (opt-in): a request is checked by the injection/jailbreak rules (and Prompt Shields
 * when a Content Safety endpoint is configured) before the flow runs; a response by the PII redactor and
 * Content Safety before it is returned. A blocked exchange is answered with the configured refusal, and the
 * event — stage, check, the rule or kind that matched, never the text — is what the server records.
 *
 * Configured by a JSON object (a deployment config's `guards` block, given to the server as LLMOPS_GUARDS or
 * `--guards <file>`):
 *
 *   { "request": { "prompt_injection": true, "jailbreak": true },
 *     "response": { "pii": ["email", "payment_card"], "content_safety": { "max_severity": 2 } },
 *     "refusal": "Sorry, I can't help with that.", "refusal_output": "answer",
 *     "content_safety_endpoint": "https://<resource>.cognitiveservices.azure.com", "content_safety_key_env": "CS_KEY" }
 */
import { closest } from '../config/schema-check.js';
import { ConfigError } from '../errors.js';
import { contentSafetySettings, createContentSafety, type ContentSafety } from './content-safety.js';
import { checkHeuristics, type AttackKind } from './injection.js';
import { ALL_PII_KINDS, countByKind, createRedactor, piiKinds, type Redactor } from './redactor.js';

export interface GuardConfig {
  request: { prompt_injection: boolean; jailbreak: boolean };
  response: { pii?: readonly string[]; content_safety?: { max_severity: number } };
  refusal: string;
  /** The output the refusal is answered in (default: every output of the flow gets it). */
  refusal_output?: string;
}

export interface GuardEvent {
  stage: 'request' | 'response';
  check: 'prompt_injection' | 'jailbreak' | 'pii' | 'content_safety';
  /** What matched: rule ids, PII kinds with counts, or categories over the limit. */
  matched: string;
}

export interface Guard {
  readonly config: GuardConfig;
  /** Whether answers are checked (a streamed answer is then held back until it is). */
  readonly checksResponses: boolean;
  checkRequest(inputs: Record<string, unknown>): Promise<GuardEvent | undefined>;
  checkResponse(outputs: Record<string, unknown>): Promise<GuardEvent | undefined>;
  /** The answer given instead of the flow's, with the flow's output names. */
  refusal(outputNames: readonly string[]): Record<string, unknown>;
}

export const DEFAULT_REFUSAL = "Sorry, I can't help with that request.";

const text = (v: unknown): string => (typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v));

/** The guard config from its JSON, every field checked (ConfigError naming `where` and the field). */
export function parseGuardConfig(raw: unknown, where: string): GuardConfig & Record<string, unknown> {
  const fail = (field: string, found: unknown, expected: string) =>
    ConfigError.at({ file: where }, `${field}: found ${JSON.stringify(found)}, expected ${expected}`);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw fail('guards', raw, 'an object');
  const o = raw as Record<string, unknown>;
  const request = (o.request ?? {}) as Record<string, unknown>;
  const response = (o.response ?? {}) as Record<string, unknown>;
  // A misspelt key would silently turn its check off: the server would run unguarded.
  for (const [prefix, object, known] of guardKeys(o, request, response))
    for (const key of Object.keys(object))
      if (!known.includes(key)) {
        const guess = closest(key, known);
        throw ConfigError.at(
          { file: where },
          `${prefix}${key}: unknown key, expected ${guess ? `"${guess}"` : `one of: ${known.join(', ')}`}`,
        );
      }
  for (const k of ['prompt_injection', 'jailbreak'])
    if (request[k] !== undefined && typeof request[k] !== 'boolean')
      throw fail(`request.${k}`, request[k], 'true or false');
  const config: GuardConfig & Record<string, unknown> = {
    ...o,
    request: { prompt_injection: request.prompt_injection === true, jailbreak: request.jailbreak === true },
    response: {},
    refusal: DEFAULT_REFUSAL,
  };
  if (response.pii !== undefined && response.pii !== false)
    config.response.pii = response.pii === true ? ALL_PII_KINDS : piiKinds(response.pii, `${where} response.pii`);
  if (response.content_safety !== undefined) {
    const cs = response.content_safety as Record<string, unknown> | null;
    const max = cs?.max_severity;
    if (typeof max !== 'number' || max < 0 || max > 7)
      throw fail('response.content_safety.max_severity', max, 'a severity from 0 to 7');
    config.response.content_safety = { max_severity: max };
  }
  if (o.refusal !== undefined) {
    if (typeof o.refusal !== 'string' || o.refusal === '') throw fail('refusal', o.refusal, 'a non-empty text');
    config.refusal = o.refusal;
  }
  if (o.refusal_output !== undefined) {
    if (typeof o.refusal_output !== 'string') throw fail('refusal_output', o.refusal_output, 'an output name');
    config.refusal_output = o.refusal_output;
  }
  return config;
}

function guardKeys(
  o: Record<string, unknown>,
  request: Record<string, unknown>,
  response: Record<string, unknown>,
): [string, Record<string, unknown>, string[]][] {
  const top = ['request', 'response', 'refusal', 'refusal_output', 'content_safety_endpoint', 'content_safety_key_env'];
  return [
    ['', o, top],
    ['request.', request, ['prompt_injection', 'jailbreak']],
    ['response.', response, ['pii', 'content_safety']],
  ];
}

export async function createGuard(config: GuardConfig & Record<string, unknown>, where = 'guards'): Promise<Guard> {
  const settings = contentSafetySettings(config, where);
  if (config.response.content_safety && !settings)
    throw ConfigError.at(
      { file: where },
      'response.content_safety needs content_safety_endpoint (or AZURE_CONTENT_SAFETY_ENDPOINT): the severities come from Azure AI Content Safety',
    );
  const contentSafety: ContentSafety | undefined = settings ? await createContentSafety(settings) : undefined;
  const redactor: Redactor | undefined = config.response.pii
    ? createRedactor(config.response.pii as Parameters<typeof createRedactor>[0])
    : undefined;
  const attackKinds = (['prompt_injection', 'jailbreak'] as AttackKind[]).filter((k) => config.request[k]);

  return {
    config,
    checksResponses:
      redactor !== undefined || (contentSafety !== undefined && config.response.content_safety !== undefined),
    async checkRequest(inputs) {
      if (attackKinds.length === 0) return undefined;
      for (const kind of attackKinds) {
        const rules: string[] = [];
        for (const v of Object.values(inputs)) rules.push(...checkHeuristics(text(v), [kind]).rules);
        if (rules.length) return { stage: 'request', check: kind, matched: [...new Set(rules)].join(',') };
      }
      if (contentSafety) {
        const prompt = Object.values(inputs).map(text).join('\n');
        const verdict = await contentSafety.shieldPrompt(prompt);
        if (verdict.userPromptAttack)
          return {
            stage: 'request',
            check: attackKinds.includes('jailbreak') ? 'jailbreak' : 'prompt_injection',
            matched: 'prompt-shields',
          };
      }
      return undefined;
    },
    async checkResponse(outputs) {
      const answer = Object.values(outputs).map(text).join('\n');
      if (redactor) {
        const found = await redactor.findings(answer);
        if (found.length) {
          const matched = Object.entries(countByKind(found))
            .map(([k, n]) => `${k}:${n}`)
            .join(',');
          return { stage: 'response', check: 'pii', matched };
        }
      }
      const limit = config.response.content_safety?.max_severity;
      if (contentSafety && limit !== undefined) {
        const severities = await contentSafety.analyze(answer);
        const over = Object.entries(severities).filter(([, s]) => s > limit);
        if (over.length)
          return { stage: 'response', check: 'content_safety', matched: over.map(([c, s]) => `${c}:${s}`).join(',') };
      }
      return undefined;
    },
    refusal(outputNames) {
      const names = config.refusal_output ? [config.refusal_output] : outputNames;
      return Object.fromEntries(names.map((n) => [n, config.refusal]));
    },
  };
}

/** The guards the environment asks for (LLMOPS_GUARDS: the JSON object), undefined when unset. */
export async function guardFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<Guard | undefined> {
  const raw = env.LLMOPS_GUARDS?.trim();
  if (!raw) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw ConfigError.at({ file: 'LLMOPS_GUARDS' }, `not JSON (${(e as Error).message}), expected the guards object`);
  }
  return createGuard(parseGuardConfig(parsed, 'LLMOPS_GUARDS'), 'LLMOPS_GUARDS');
}

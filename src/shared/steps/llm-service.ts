/**
 * The one LLM service of a step run: the response cache in the run store, the price table
 * (defaults merged with a user file), and Microsoft Entra ID tokens for connections that use
 * them (auth_mode: meid_token, or Azure OpenAI without a key), from the host's credential chain.
 */
import { existsSync } from 'node:fs';
import type { Connection } from '../config/connections.js';
import type { Execution, UseCase } from '../config/types.js';
import { createAzureCredential } from '../azure/credentials.js';
import { LlmService } from '../engine/index.js';
import { ConfigError } from '../errors.js';
import type { Host } from '../host/host.js';
import { mergePrices, ResponseCache, type PriceTable } from '../llm/index.js';
import { RunStore } from '../runs/index.js';
import { sharedRedactor } from '../safety/redactor.js';
import { readSource } from '../source.js';

/** Azure OpenAI's token scope. */
const cognitiveServicesScope = 'https://cognitiveservices.azure.com/.default';

export function llmServiceFor(
  execution: Execution,
  store: string,
  connections: Connection[],
  host: Host,
  options: { checkAtLoad?: boolean; redaction?: UseCase['redaction'] } = {},
): LlmService {
  const needsToken = connections.some(
    (c) => c.type === 'AzureOpenAIConnection' && (c.value.auth_mode === 'meid_token' || c.value.api_key === undefined),
  );
  return new LlmService({
    cache:
      execution.cache === 'off'
        ? undefined
        : new ResponseCache({
            root: new RunStore(store).cacheDir,
            mode: execution.cache,
            redact: cacheRedaction(options),
          }),
    prices: loadPrices(process.env.LLMOPS_PRICES_FILE),
    client: needsToken ? { getToken: entraTokens(host) } : undefined,
    checkAtLoad: options.checkAtLoad,
    rates: { requestsPerMinute: execution.requestsPerMinute, tokensPerMinute: execution.tokensPerMinute },
  });
}

/** With `redaction.run_store`, the cache (part of the run store) keeps answers redacted like the run's lines. */
function cacheRedaction(options: { redaction?: UseCase['redaction'] }): ((v: unknown) => Promise<unknown>) | undefined {
  const redaction = options.redaction;
  if (!redaction?.runStore) return undefined;
  const redactor = sharedRedactor(redaction.kinds);
  return (value) => redactor.redactValue(value);
}

/** A cached bearer token, renewed five minutes before it expires; the credential is created on first use. */
function entraTokens(host: Host): () => Promise<string> {
  let credential: Promise<Awaited<ReturnType<typeof createAzureCredential>>['credential']> | undefined;
  let cached: { token: string; expiresOn: number } | undefined;
  return async () => {
    if (cached && cached.expiresOn - Date.now() > 5 * 60_000) return cached.token;
    credential ??= createAzureCredential(host.azureAuth?.() ?? {}).then((c) => {
      host.info(`Azure OpenAI: signing in with ${c.choice.kind}`);
      return c.credential;
    });
    const token = await (await credential).getToken(cognitiveServicesScope);
    if (!token)
      throw new ConfigError([
        {
          file: 'Azure credential',
          message: `no token for ${cognitiveServicesScope}; expected a credential allowed to call Azure OpenAI`,
        },
      ]);
    cached = { token: token.token, expiresOn: token.expiresOnTimestamp };
    host.mask(token.token);
    return token.token;
  };
}

/**
 * The price table: DEFAULT_PRICES with a user's YAML or JSON file merged over it
 * (`model: { input: <USD per 1M tokens>, output: <USD per 1M tokens> }`).
 */
export function loadPrices(file: string | undefined): PriceTable {
  if (!file) return mergePrices();
  if (!existsSync(file)) throw ConfigError.at({ file }, 'price table not found (LLMOPS_PRICES_FILE)');
  const source = readSource(file, file);
  const table = source.value as Record<string, { input?: unknown; output?: unknown }> | null;
  const bad = Object.entries(table ?? {}).filter(
    ([, p]) => typeof p?.input !== 'number' || typeof p?.output !== 'number',
  );
  if (!table || typeof table !== 'object' || bad.length) {
    throw ConfigError.at(
      { file },
      `expected a mapping of model → { input: <USD per 1M input tokens>, output: <USD per 1M output tokens> }${bad.length ? `; not a price: ${bad.map(([k]) => k).join(', ')}` : ''}`,
    );
  }
  return mergePrices(table as PriceTable);
}

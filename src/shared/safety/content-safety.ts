/**
 * Azure AI Content Safety through its official REST client (@azure-rest/ai-content-safety): text:analyze for the
 * hate / sexual / violence / self-harm severities, text:shieldPrompt for Prompt Shields (user-prompt and
 * document attacks). Authenticated by a key (from an environment variable the config names, never the key
 * itself in the config) or by Entra ID through the project's credential chain.
 */
import type { ContentSafetyClient } from '@azure-rest/ai-content-safety';
import type { TokenCredential } from '@azure/core-auth';
import { createAzureCredential } from '../azure/credentials.js';
import { ConfigError, ServiceError } from '../errors.js';

/** The GA version with both text:analyze and text:shieldPrompt (vendored spec: stable/2024-09-01). */
export const CONTENT_SAFETY_API_VERSION = '2024-09-01';

export const HARM_CATEGORIES = ['Hate', 'SelfHarm', 'Sexual', 'Violence'] as const;
export type HarmCategory = (typeof HARM_CATEGORIES)[number];

export interface ContentSafetySettings {
  /** https://<resource>.cognitiveservices.azure.com */
  endpoint: string;
  /** Name of the environment variable holding the resource key; without it, Entra ID. */
  keyEnv?: string;
}

export interface ShieldVerdict {
  userPromptAttack: boolean;
  documentAttacks: boolean[];
}

export interface ContentSafety {
  /** Severity per category (0, 2, 4, 6 with the default four-level output). */
  analyze(text: string): Promise<Record<HarmCategory, number>>;
  shieldPrompt(userPrompt: string, documents?: string[]): Promise<ShieldVerdict>;
}

/** Settings from an evaluator's or guard's options (`content_safety_endpoint`, `content_safety_key_env`). */
export function contentSafetySettings(
  options: Record<string, unknown>,
  where: string,
  env: NodeJS.ProcessEnv = process.env,
): ContentSafetySettings | undefined {
  const endpoint = options.content_safety_endpoint ?? env.AZURE_CONTENT_SAFETY_ENDPOINT;
  if (endpoint === undefined || endpoint === '') return undefined;
  if (typeof endpoint !== 'string' || !/^https:\/\/|^http:\/\/(localhost|127\.|\[::1\])/.test(endpoint))
    throw ConfigError.at(
      { file: where },
      `content_safety_endpoint: found ${JSON.stringify(endpoint)}, expected the https:// URL of a Content Safety resource (plain http only on this machine)`,
    );
  const keyEnv = options.content_safety_key_env;
  if (keyEnv !== undefined && typeof keyEnv !== 'string')
    throw ConfigError.at(
      { file: where },
      `content_safety_key_env: found ${JSON.stringify(keyEnv)}, expected the name of an environment variable`,
    );
  return { endpoint: endpoint.replace(/\/+$/, ''), keyEnv };
}

export async function createContentSafety(
  settings: ContentSafetySettings,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ContentSafety> {
  let credential: { key: string } | TokenCredential;
  if (settings.keyEnv) {
    const key = env[settings.keyEnv];
    if (!key)
      throw ConfigError.at(
        { file: 'content_safety_key_env' },
        `environment variable ${settings.keyEnv} is not set (it should hold the Content Safety resource key)`,
      );
    credential = { key };
  } else {
    credential = (await createAzureCredential({}, env)).credential;
  }
  // Loaded when a resource is configured: runs and servers without one never pay for the client.
  const { default: createClient, isUnexpected } = await import('@azure-rest/ai-content-safety');
  const client: ContentSafetyClient = createClient(settings.endpoint, credential, {
    apiVersion: CONTENT_SAFETY_API_VERSION,
    retryOptions: { maxRetries: 3 },
    // Plain http only to this machine (a local stand-in or proxy): a key never crosses a network unencrypted.
    allowInsecureConnection: isLoopback(settings.endpoint),
  });
  const send = async <T>(operation: string, request: () => PromiseLike<T>): Promise<T> => {
    try {
      return await request();
    } catch (e) {
      throw new ServiceError(`Azure AI Content Safety ${operation} failed: ${(e as Error).message}`);
    }
  };
  const fail = (operation: string, status: string, body: unknown) =>
    new ServiceError(
      `Azure AI Content Safety ${operation} failed: HTTP ${status} ${JSON.stringify((body as { error?: unknown })?.error ?? body)}`,
    );
  return {
    async analyze(text) {
      const response = await send('text:analyze', () =>
        client.path('/text:analyze').post({
          body: { text: text.slice(0, 10_000), categories: [...HARM_CATEGORIES], outputType: 'FourSeverityLevels' },
        }),
      );
      if (isUnexpected(response)) throw fail('text:analyze', response.status, response.body);
      const severities = { Hate: 0, SelfHarm: 0, Sexual: 0, Violence: 0 } as Record<HarmCategory, number>;
      for (const c of response.body.categoriesAnalysis) severities[c.category as HarmCategory] = c.severity ?? 0;
      return severities;
    },
    async shieldPrompt(userPrompt, documents = []) {
      // Prompt Shields is newer than the client's typed routes: the same client, an unchecked path.
      const response = await send('text:shieldPrompt', () =>
        client
          .pathUnchecked('/text:shieldPrompt')
          .post({ body: { userPrompt: userPrompt.slice(0, 10_000), documents } }),
      );
      if (response.status !== '200') throw fail('text:shieldPrompt', response.status, response.body);
      const body = response.body as {
        userPromptAnalysis?: { attackDetected: boolean };
        documentsAnalysis?: { attackDetected: boolean }[];
      };
      return {
        userPromptAttack: Boolean(body.userPromptAnalysis?.attackDetected),
        documentAttacks: (body.documentsAnalysis ?? []).map((d) => Boolean(d.attackDetected)),
      };
    },
  };
}

function isLoopback(endpoint: string): boolean {
  const host = new URL(endpoint).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\./.test(host);
}

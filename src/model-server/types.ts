/**
 * Options, rules and statistics of the local model server.
 * @module
 */

/** One match → answer rule. First matching rule wins; with no match the server echoes (see server.ts). */
export interface Rule {
  /** Regular expression (JavaScript syntax) tested against the text selected by `scope`. */
  match: string;
  /** RegExp flags, e.g. "i". */
  flags?: string;
  /**
   * What the regex sees: `last_user` (default) — the text of the last user message (the prompt for
   * /completions); `all` — every message in the echo format (`role: text` lines).
   */
  scope?: 'last_user' | 'all';
  /** Only for requests whose model (or Azure deployment) matches this regex. */
  model?: string;
  /** Text answer; `{{0}}` is the whole match, `{{1}}`… capture groups, `{{name}}` named groups. */
  answer?: string;
  /**
   * Text answers taken in turn by the sights of one exact request: the n-th time the same request is seen it gets
   * `answers[(n − 1) mod length]` (templated like `answer`). Repeated sampling that varies, deterministically.
   */
  answers?: string[];
  /** JSON answer (templated string leaves), sent as the content text serialised with JSON.stringify. */
  json?: unknown;
  /** Tool calls to answer with (only when the request offers tools/functions and its last message is not a tool result). */
  tool_calls?: { name: string; arguments?: unknown }[];
  /** Answer with an OpenAI-shaped error instead (e.g. to test content-filter handling). */
  error?: { status: number; message: string; code?: string; type?: string };
}

export interface ModelServerOptions {
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Fixed delay before each answer (ms). Default 0. */
  latencyMs?: number;
  /** Extra delay, uniform in [0, jitterMs), chosen deterministically from the seed and the request. */
  jitterMs?: number;
  /** Requests allowed per window (`windowMs`, default one minute); beyond → 429 with Retry-After. */
  rpm?: number;
  /** Tokens (prompt + completion) allowed per window; beyond → 429 with Retry-After. */
  tpm?: number;
  /** Length of the rate-limit window in ms (default 60000). Tests shorten it. */
  windowMs?: number;
  /** Share of requests failing (0..1): half answer 500, half have their connection dropped. Deterministic from the seed. */
  faultRate?: number;
  /** Rules, or the path of a YAML rules file. */
  rules?: Rule[] | string;
  /** Seed of every pseudo-random choice (jitter, faults, ids). Default 0. */
  seed?: number;
  /** Called with one line per answered request (the CLI's --verbose). */
  log?: (line: string) => void;
  /** Largest request body in bytes (413 beyond, answered before the body is read). Default 4 MiB. */
  maxBodyBytes?: number;
}

/** Counters since the server started. */
export interface ModelServerStats {
  requests: number;
  /** Responses by HTTP status ("200", "429", …); dropped connections are counted under "dropped". */
  byStatus: Record<string, number>;
  /** Requests by endpoint: chat, completions, embeddings, models. */
  byEndpoint: Record<string, number>;
  rateLimited: number;
  serverErrors: number;
  dropped: number;
  promptTokens: number;
  completionTokens: number;
  inFlight: number;
  maxInFlight: number;
}

export interface ModelServerHandle {
  url: string;
  port: number;
  close(): Promise<void>;
  stats(): ModelServerStats;
}

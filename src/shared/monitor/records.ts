/**
 * What monitoring reads, whatever recorded it (a served flow's request log or an OTLP file export): one record
 * per answered or failed request, and the feedback callers gave, each with who answered.
 * @module
 */

export interface RequestRecord {
  /** Epoch ms of the answer. */
  time: number;
  requestId: string;
  /** The deployment, version or colour that answered; undefined when the log does not say. */
  deployment?: string;
  /** HTTP status of the answer (200 for answers logged without one). */
  status: number;
  /** Undefined when the recorder did not measure it (request logs written before latency was logged). */
  latencyMs?: number;
  tokens?: { prompt: number; completion: number; total: number };
  costUsd?: number;
  /** For a failed request: what failed (the innermost error code, e.g. RateLimitError). */
  errorKind?: string;
  /** Flow inputs and outputs as logged (request logs only): what reference-free evaluators read. */
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  /** Where it was read, for messages. */
  source: string;
}

export interface FeedbackRecord {
  time: number;
  requestId: string;
  /** The server that received the feedback (not necessarily the one that answered: join by request id). */
  receivedBy?: string;
  rating?: number;
  label?: string;
  source: string;
}

export interface MonitorData {
  requests: RequestRecord[];
  feedback: FeedbackRecord[];
  /** Files read, in order. */
  files: string[];
}

/**
 * A failed line (the request log records only lines that ran: a request refused before running is the caller's
 * fault and never logged), a 5xx, or no answer at all.
 */
export function isError(r: RequestRecord): boolean {
  return r.errorKind !== undefined || r.status === 0 || r.status >= 500;
}

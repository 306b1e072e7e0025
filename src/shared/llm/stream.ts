/**
 * Streamed chat completions (`stream: true`, used when serving a flow with streaming): server-sent events
 * parsed into chunks. Retries happen only before the first byte (a half-delivered answer cannot be replayed
 * to the listener); streams are never cached. Usage comes from the final usage chunk when the service sends
 * one (`stream_options.include_usage`), else it is counted locally with the tokenizer.
 * @module
 */
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { CallOptions, LlmClient, TokenUsage } from './client.js';
import { countChatTokens, countTextTokens, loadTokenizers, type CountableMessage } from './tokens.js';

/** An answer being streamed. Iterate it for chunks; `usage` and `latencyMs` are set when it ends. */
export interface LlmStream extends AsyncIterable<ChatCompletionChunk> {
  usage?: TokenUsage;
  /** Time to the response headers (ms). */
  firstByteMs: number;
  /** Time to the end of the stream (ms), set when it ends. */
  latencyMs?: number;
  attempts: number;
}

/** Start a streamed chat completion. Resolves when the service has accepted the request (HTTP 200). */
export async function chatStream(
  client: LlmClient,
  body: Record<string, unknown>,
  options: CallOptions = {},
): Promise<LlmStream> {
  const started = performance.now();
  const model = typeof body.model === 'string' ? body.model : '';
  const { value: res, attempts } = await client.send(
    'chat',
    model,
    JSON.stringify({ ...body, stream: true }),
    options.signal,
    async (r) => r,
    options.traceparent,
  );
  await loadTokenizers();
  const stream: LlmStream = {
    firstByteMs: performance.now() - started,
    attempts,
    async *[Symbol.asyncIterator]() {
      let reported: TokenUsage | undefined;
      let content = '';
      for await (const data of sseData(res)) {
        if (data === '[DONE]') break;
        const chunk = JSON.parse(data) as ChatCompletionChunk;
        if (chunk.usage) {
          reported = {
            promptTokens: chunk.usage.prompt_tokens,
            completionTokens: chunk.usage.completion_tokens,
            totalTokens: chunk.usage.total_tokens,
          };
        }
        for (const c of chunk.choices) content += c.delta?.content ?? '';
        yield chunk;
      }
      if (reported) stream.usage = reported;
      else {
        const promptTokens = countChatTokens((body.messages ?? []) as CountableMessage[], model);
        const completionTokens = countTextTokens(content, model);
        stream.usage = { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens };
      }
      stream.latencyMs = performance.now() - started;
    },
  };
  return stream;
}

/** The `data:` payloads of a server-sent-events body. */
async function* sseData(res: Response): AsyncGenerator<string> {
  if (!res.body) return;
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const bytes of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(bytes, { stream: true });
    let end: number;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
      const data = event
        .split(/\r?\n/)
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, ''))
        .join('\n');
      if (data) yield data;
    }
  }
}

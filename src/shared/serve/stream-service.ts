/**
 * Streaming of an output-terminal llm node without changing the engine: the engine's LLM service is replaced
 * by one that, inside a request that asked for a stream, sends the llm node's chat call with `stream: true`,
 * hands every content piece to the request's sink as it arrives, and gives the engine the joined text as a
 * normal completion. The request is found through AsyncLocalStorage, which follows the line's promises.
 * @module
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Connection } from '../config/connections.js';
import { addUsage, LlmService, type Usage } from '../engine/index.js';
import { chatStream, estimateCost, type LlmResult } from '../llm/index.js';
import { genAiSystem, telemetry } from '../telemetry/hooks.js';

/** Where one request's chunks go. `claimed` is set by the first (only) streamed call of the line. */
export interface StreamSink {
  onChunk(text: string): void;
  claimed: boolean;
}

const sinks = new AsyncLocalStorage<StreamSink>();

/** Runs `body` (one line) with `sink` receiving the streamed chunks of its llm node. */
export function withStreamSink<T>(sink: StreamSink, body: () => Promise<T>): Promise<T> {
  return sinks.run(sink, body);
}

/** The calledFrom marker of plain llm nodes (vision tools and python callbacks use others and never stream). */
const LLM_NODE_CALLER = 'aoai-tool';

export class StreamingLlmService extends LlmService {
  /** Not async itself: a call that does not stream is the engine's own call, without a promise around it. */
  override call(
    api: 'chat' | 'completion' | 'embedding',
    connection: Connection,
    body: Record<string, unknown>,
    usage: Usage[],
    signal?: AbortSignal,
    calledFrom?: string,
  ): Promise<LlmResult<unknown>> {
    const sink = sinks.getStore();
    if (!sink || sink.claimed || api !== 'chat' || (calledFrom ?? LLM_NODE_CALLER) !== LLM_NODE_CALLER)
      return super.call(api, connection, body, usage, signal, calledFrom);
    sink.claimed = true;
    return this.streamCall(sink, connection, body, usage, signal, calledFrom);
  }

  private async streamCall(
    sink: StreamSink,
    connection: Connection,
    body: Record<string, unknown>,
    usage: Usage[],
    signal: AbortSignal | undefined,
    calledFrom: string | undefined,
  ): Promise<LlmResult<unknown>> {
    const client = this.client(connection, calledFrom);
    const span = telemetry?.modelCallStart(usage[usage.length - 1], {
      api: 'chat',
      system: genAiSystem(client.endpoint.provider),
      model: String(body.model ?? ''),
      body,
    });
    try {
      const { result, cost } = await this.streamed(sink, client, body, usage, signal, span?.traceparent);
      span?.end({ response: result.response, usage: result.usage, costUsd: cost, attempts: result.attempts });
      return result;
    } catch (e) {
      span?.end({ error: e });
      throw e;
    }
  }

  private async streamed(
    sink: StreamSink,
    client: ReturnType<LlmService['client']>,
    body: Record<string, unknown>,
    usage: Usage[],
    signal: AbortSignal | undefined,
    traceparent: string | undefined,
  ): Promise<{ result: LlmResult<unknown>; cost?: number }> {
    const stream = await chatStream(client, body, { signal, traceparent });
    let content = '';
    let finishReason: string | null = null;
    let model = String(body.model ?? '');
    for await (const chunk of stream) {
      if (chunk.model) model = chunk.model;
      const choice = chunk.choices[0];
      const piece = choice?.delta?.content;
      if (piece) {
        content += piece;
        sink.onChunk(piece);
      }
      if (choice?.finish_reason) finishReason = choice.finish_reason;
    }
    const tokens = stream.usage ?? { promptTokens: 0, completionTokens: 0, totalTokens: 0 };
    const cost = estimateCost(model, tokens);
    for (const u of usage) addUsage(u, tokens, cost);
    const response = {
      object: 'chat.completion',
      model,
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: finishReason ?? 'stop' }],
      usage: {
        prompt_tokens: tokens.promptTokens,
        completion_tokens: tokens.completionTokens,
        total_tokens: tokens.totalTokens,
      },
    };
    return {
      result: { response, usage: tokens, latencyMs: stream.latencyMs ?? 0, cached: false, attempts: stream.attempts },
      cost,
    };
  }
}

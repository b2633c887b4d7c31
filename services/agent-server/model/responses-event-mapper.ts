// Turns the Responses API stream events of one attempt into our ModelEvents: deltas, finished
// items, the end with usage. Events we do not use are skipped; a terminal event that is
// missing what we need is a DATA_LOSS error, and response.failed becomes a StreamFailed.
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { Usage } from "../thread/thread-event.js";
import type { ConversationItem, ModelEvent } from "./model-client.js";
import { StreamFailed } from "./model-failure.js";

/** The fields of a stream event this mapper reads; everything else is ignored. */
export interface StreamEventLike {
  type: string;
  [key: string]: unknown;
}

export class ResponsesEventMapper {
  /** Set once response.completed (or response.incomplete) arrived: nothing may follow. */
  finished = false;
  /** Set once response.created arrived. */
  created = false;

  map(event: StreamEventLike): ModelEvent[] {
    switch (event.type) {
      case "response.created": {
        this.created = true;
        return [{ type: "created", responseId: responseOf(event).id }];
      }
      case "response.output_text.delta":
        return [{ type: "text.delta", itemId: str(event.item_id, "item_id"), delta: str(event.delta, "delta") }];
      case "response.reasoning_summary_part.added":
        // Parts after the first are new paragraphs; streamed text must show the break too.
        return Number(event.summary_index) > 0 ? [{ type: "reasoning.delta", itemId: str(event.item_id, "item_id"), delta: "\n\n" }] : [];
      case "response.reasoning_summary_text.delta":
        return [{ type: "reasoning.delta", itemId: str(event.item_id, "item_id"), delta: str(event.delta, "delta") }];
      case "response.output_item.added": {
        // A hint only (item.done carries the call): an odd one is ignored, not an error.
        const raw = event.item as { type?: unknown; id?: unknown; name?: unknown } | undefined;
        if (raw?.type !== "function_call") return [];
        return [{ type: "call.started", itemId: typeof raw.id === "string" ? raw.id : "", name: typeof raw.name === "string" ? raw.name : "" }];
      }
      case "response.output_item.done": {
        const raw = record(event.item, "item");
        const item = toConversationItem(raw);
        return item ? [{ type: "item.done", itemId: typeof raw.id === "string" ? raw.id : "", item }] : [];
      }
      case "response.completed":
      case "response.incomplete": {
        const response = responseOf(event);
        this.finished = true;
        const done: ModelEvent = { type: "completed", responseId: response.id, usage: usageOf(response.usage) };
        if (event.type === "response.incomplete") {
          const details = response.incomplete_details as { reason?: unknown } | null | undefined;
          done.incompleteReason = typeof details?.reason === "string" ? details.reason : "unknown";
        }
        return [done];
      }
      case "response.failed": {
        const error = responseOf(event).error as { code?: unknown; message?: unknown } | null | undefined;
        throw new StreamFailed(typeof error?.code === "string" ? error.code : undefined, typeof error?.message === "string" ? error.message : "response.failed without an error");
      }
      case "error":
        throw new StreamFailed(typeof event.code === "string" ? event.code : undefined, typeof event.message === "string" ? event.message : "error event");
      default:
        return [];
    }
  }
}

/** A finished output item as conversation history; undefined for kinds we never offer (custom tools, web search …). */
function toConversationItem(item: Record<string, unknown>): ConversationItem | undefined {
  switch (item.type) {
    case "message": {
      const content = Array.isArray(item.content) ? (item.content as Record<string, unknown>[]) : [];
      const text = content
        .map((part) => (part.type === "output_text" ? String(part.text ?? "") : part.type === "refusal" ? String(part.refusal ?? "") : ""))
        .join("");
      return { type: "message", role: "assistant", text };
    }
    case "reasoning": {
      const summary = Array.isArray(item.summary) ? (item.summary as Record<string, unknown>[]).map((s) => String(s.text ?? "")) : [];
      const out: ConversationItem = { type: "reasoning", summary };
      if (typeof item.id === "string") out.id = item.id;
      if (typeof item.encrypted_content === "string") out.encryptedContent = item.encrypted_content;
      return out;
    }
    case "function_call":
      return {
        type: "function_call",
        callId: str(item.call_id, "function_call.call_id"),
        name: str(item.name, "function_call.name"),
        arguments: str(item.arguments, "function_call.arguments"),
      };
    default:
      return undefined;
  }
}

function usageOf(raw: unknown): Usage {
  const u = (raw ?? {}) as {
    input_tokens?: number;
    input_tokens_details?: { cached_tokens?: number } | null;
    output_tokens?: number;
    output_tokens_details?: { reasoning_tokens?: number } | null;
  };
  return {
    inputTokens: u.input_tokens ?? 0,
    cachedInputTokens: u.input_tokens_details?.cached_tokens ?? 0,
    outputTokens: u.output_tokens ?? 0,
    reasoningOutputTokens: u.output_tokens_details?.reasoning_tokens ?? 0,
  };
}

function responseOf(event: StreamEventLike): Record<string, unknown> & { id: string } {
  const response = record(event.response, `${event.type}.response`);
  return { ...response, id: str(response.id, `${event.type}.response.id`) };
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  throw new TetherError(ErrorCode.DataLoss, `the model stream sent an event without ${what}`);
}

function str(value: unknown, what: string): string {
  if (typeof value === "string") return value;
  throw new TetherError(ErrorCode.DataLoss, `the model stream sent an event without ${what}`);
}

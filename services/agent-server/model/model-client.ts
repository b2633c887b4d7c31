// The model as the turn loop sees it (STYLE rule 23): one streaming call behind an interface,
// so tests and benchmarks can use a replaying fake or the scripted Responses server, and the
// real client (openai SDK, Responses API) owns retries, classification and SSE parsing.
import type { Usage } from "../thread/thread-event.js";

/** One entry of the conversation as the Responses API takes it; also what rollouts store. */
export type ConversationItem =
  | { type: "message"; role: "user" | "assistant" | "developer"; text: string }
  | { type: "reasoning"; id?: string; summary: string[]; encryptedContent?: string }
  | { type: "function_call"; callId: string; name: string; arguments: string }
  | { type: "function_call_output"; callId: string; output: string };

/** A function tool as the model is offered it: name, description, strict JSON schema. */
export interface ToolSpec {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

export interface ReasoningSettings {
  effort?: "none" | "minimal" | "low" | "medium" | "high" | "xhigh";
  summary?: "auto" | "concise" | "detailed";
}

export interface ModelRequest {
  model: string;
  /** System-level instructions: tether's base prompt plus AGENTS.md project instructions. */
  instructions: string;
  input: ConversationItem[];
  tools: ToolSpec[];
  /** Ask for a final answer that validates against this JSON schema (`exec --output-schema`). */
  outputSchema?: { name: string; schema: Record<string, unknown> };
  /** For reasoning models: asks for encrypted reasoning back too (store is off), to send with the next request. */
  reasoning?: ReasoningSettings;
  /** Stable per thread, so a server can reuse its prompt cache. */
  promptCacheKey?: string;
  /** Let the model ask for several tool calls in one response (default true). */
  parallelToolCalls?: boolean;
}

/** The stream of one model call, in order; `completed` is last unless the iterator throws. */
export type ModelEvent =
  /** The server began answering (response.created): clears the turn's start-up timeout. */
  | { type: "created"; responseId: string }
  | { type: "text.delta"; itemId: string; delta: string }
  | { type: "reasoning.delta"; itemId: string; delta: string }
  /**
   * A function call began (its arguments stream next; its item.done carries the call): a hint
   * that tools are about to be needed, e.g. to open a thread's environment meanwhile.
   */
  | { type: "call.started"; itemId: string; name: string }
  /** A finished output item: assistant message, reasoning, or a function call to run. */
  | { type: "item.done"; itemId: string; item: ConversationItem }
  /**
   * A retry is coming (`attempt` of `maxAttempts` starts after `delayMs`): drop the partial
   * text shown for this attempt. Only sent while no `item.done` was yielded in the attempt,
   * so finished items are never taken back; the next attempt starts with `created` again.
   */
  | { type: "retrying"; attempt: number; maxAttempts: number; delayMs: number; reason: string }
  /** The end of the response; `incompleteReason` when it stopped early (e.g. "max_output_tokens"). */
  | { type: "completed"; responseId: string; usage: Usage; incompleteReason?: string };

export interface ModelCallOptions {
  /** The turn's signal: aborting cancels the HTTP request at once. */
  signal: AbortSignal;
}

/**
 * Streams one model response. Failures throw a TetherError: UNAUTHENTICATED (bad key),
 * NOT_FOUND (unknown model), UNAVAILABLE (retries used up), DEADLINE_EXCEEDED (no answer
 * within the start-up timeout), DATA_LOSS (malformed stream), CANCELLED (aborted).
 */
export interface ModelClient {
  stream(request: ModelRequest, options: ModelCallOptions): AsyncIterable<ModelEvent>;
}

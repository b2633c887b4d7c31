// One turn of the agent loop: ask the model (instructions + history + tools), stream its
// text and reasoning into items, run the function calls it made, and ask again until it
// answers without calls. Returns how the turn ended; the thread emits the terminal event.
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { ConversationItem, ModelClient, ModelRequest } from "../model/model-client.js";
import type { ToolContext } from "../tools/tool.js";
import type { ItemTracker } from "./item-tracker.js";
import { type TurnError, type Usage, EMPTY_USAGE } from "./thread-event.js";
import type { ThreadTools } from "./thread-services.js";

/** A model that keeps calling tools is stopped here rather than looping for ever. */
export const MAX_MODEL_REQUESTS_PER_TURN = 256;
/** Tool output kept for the model (and the rollout, so resume rebuilds the same input). */
export const MAX_TOOL_OUTPUT_CHARS = 64 * 1024;

export type TurnOutcome =
  | { status: "completed"; usage: Usage }
  | { status: "failed"; usage: Usage; error: TurnError }
  | { status: "interrupted"; usage: Usage };

export interface TurnRunnerDeps {
  turnId: string;
  model: ModelClient;
  request: () => Promise<Omit<ModelRequest, "input" | "tools">>;
  tools: ThreadTools;
  items: ItemTracker;
  /** The thread's history; the runner appends (and records) what this turn adds. */
  append: (item: ConversationItem) => void;
  conversation: () => ConversationItem[];
  /** Steering input queued since the last model request. */
  takeSteers: () => string[];
  toolContext: (callId: string) => ToolContext;
  newId: (prefix: string) => string;
  /** Called when the model starts (or finishes) a function call: the tools will be needed soon. */
  toolsComing?: () => void;
  /** Awaited before the first tool call of a model response; a rejection fails the turn. */
  toolsReady?: () => Promise<void>;
  emitRetrying: (e: { attempt: number; maxAttempts: number; delayMs: number; reason: string }) => void;
  signal: AbortSignal;
  /** Set by a tool's authorization when the user chose cancel. */
  cancelled: () => boolean;
}

export function capOutput(text: string, max = MAX_TOOL_OUTPUT_CHARS): string {
  if (text.length <= max) return text;
  const half = Math.floor(max / 2);
  return `${text.slice(0, half)}\n[… ${text.length - 2 * half} characters cut …]\n${text.slice(-half)}`;
}

function addUsage(a: Usage, b: Usage): Usage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    cachedInputTokens: a.cachedInputTokens + b.cachedInputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    reasoningOutputTokens: a.reasoningOutputTokens + b.reasoningOutputTokens,
  };
}

export async function runTurn(d: TurnRunnerDeps, userText: string): Promise<TurnOutcome> {
  let usage: Usage = { ...EMPTY_USAGE };
  const pendingCalls = new Set<string>();
  const addUser = (text: string) => {
    d.items.completed({ type: "user_message", id: d.newId("item"), text });
    d.append({ type: "message", role: "user", text });
  };
  try {
    addUser(userText);
    for (let n = 0; n < MAX_MODEL_REQUESTS_PER_TURN; n++) {
      for (const text of d.takeSteers()) addUser(text);
      const calls: { callId: string; name: string; arguments: string }[] = [];
      const answer = await streamOnce(d, (call) => {
        pendingCalls.add(call.callId);
        calls.push(call);
      });
      usage = addUsage(usage, answer.usage);
      if (answer.incompleteReason !== undefined) {
        // As Codex: a response cut short (max_output_tokens, content_filter) fails the turn
        // rather than pass a truncated answer (or half its calls) off as the result.
        const reason = answer.incompleteReason;
        const code = reason === "max_output_tokens" ? ErrorCode.ResourceExhausted : ErrorCode.FailedPrecondition;
        return { status: "failed", usage, error: { code: codeName(code), message: `the model's response was incomplete (${reason}): the turn stops rather than act on a cut-off answer` } };
      }
      if (calls.length === 0) {
        // Steering that arrived while the model answered must still be seen.
        const late = d.takeSteers();
        if (late.length === 0) return { status: "completed", usage };
        for (const text of late) addUser(text);
        continue;
      }
      try {
        await d.toolsReady?.();
      } catch (err) {
        if (d.signal.aborted || d.cancelled()) return { status: "interrupted", usage };
        // Nothing ran: the environment the tools need could not be opened (its own error).
        const e = TetherError.from(err);
        return { status: "failed", usage, error: { code: codeName(e.code), message: e.message, source: "environment" } };
      }
      for (const call of calls) {
        if (d.signal.aborted) break;
        const result = await d.tools.run(call, d.toolContext(call.callId));
        pendingCalls.delete(call.callId);
        d.append({ type: "function_call_output", callId: call.callId, output: capOutput(result.output) });
        if (d.cancelled()) return { status: "interrupted", usage };
      }
      if (d.signal.aborted) break;
    }
    if (!d.signal.aborted) {
      return { status: "failed", usage, error: { code: ErrorCode[ErrorCode.ResourceExhausted], message: `the model asked for tools ${MAX_MODEL_REQUESTS_PER_TURN} times in one turn: stopped` } };
    }
    return { status: "interrupted", usage };
  } catch (err) {
    if (d.signal.aborted || d.cancelled()) return { status: "interrupted", usage };
    const e = TetherError.from(err);
    return { status: "failed", usage, error: { code: codeName(e.code), message: e.message } };
  } finally {
    // Every call the model made gets exactly one output, even when the turn stopped mid-call.
    for (const callId of pendingCalls) d.append({ type: "function_call_output", callId, output: "aborted: the turn ended before this call finished" });
  }
}

export function codeName(code: ErrorCode): string {
  return (ErrorCode[code] ?? "Unknown").replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/**
 * One model request; returns its usage. Function calls are handed to `onCall` as they finish.
 * The start-up timeout is the model client's (ModelClient: DEADLINE_EXCEEDED when nothing
 * starts in time, per attempt, retry waits not counted): the one timer, not a second here.
 */
async function streamOnce(d: TurnRunnerDeps, onCall: (call: { callId: string; name: string; arguments: string }) => void): Promise<{ usage: Usage; incompleteReason?: string }> {
  const base = await d.request();
  const request: ModelRequest = { ...base, input: d.conversation(), tools: d.tools.specs };
  // Open items of this attempt, keyed by the model's item id.
  const open = new Map<string, { id: string; kind: "agent_message" | "reasoning"; text: string }>();
  const openItem = (modelItemId: string, kind: "agent_message" | "reasoning") => {
    let o = open.get(modelItemId);
    if (!o) {
      o = { id: d.newId("item"), kind, text: "" };
      open.set(modelItemId, o);
      d.items.started({ type: kind, id: o.id, text: "" });
    }
    return o;
  };
  let usage: Usage = { ...EMPTY_USAGE };
  let incompleteReason: string | undefined;
  for await (const event of d.model.stream(request, { signal: d.signal })) {
    switch (event.type) {
      case "created":
        break;
      case "call.started":
        d.toolsComing?.();
        break;
      case "retrying":
        // The UI drops what it showed of this attempt; so do we.
        for (const o of open.values()) d.items.forget(o.id);
        open.clear();
        d.emitRetrying(event);
        break;
      case "text.delta":
      case "reasoning.delta": {
        const o = openItem(event.itemId, event.type === "text.delta" ? "agent_message" : "reasoning");
        o.text += event.delta;
        d.items.delta(o.id, event.type === "text.delta" ? "text" : "reasoning", event.delta);
        break;
      }
      case "item.done": {
        const item = event.item;
        if (item.type === "message" && item.role === "assistant") {
          const o = openItem(event.itemId, "agent_message");
          d.items.completed({ type: "agent_message", id: o.id, text: item.text });
          open.delete(event.itemId);
        } else if (item.type === "reasoning") {
          const o = openItem(event.itemId, "reasoning");
          d.items.completed({ type: "reasoning", id: o.id, text: item.summary.join("\n\n") || o.text });
          open.delete(event.itemId);
        } else if (item.type === "function_call") {
          d.toolsComing?.();
          onCall({ callId: item.callId, name: item.name, arguments: item.arguments });
        }
        d.append(item);
        break;
      }
      case "completed":
        usage = event.usage;
        incompleteReason = event.incompleteReason;
        break;
    }
  }
  return incompleteReason === undefined ? { usage } : { usage, incompleteReason };
}

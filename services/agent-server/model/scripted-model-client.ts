// A replaying ModelClient for unit tests (STYLE rule 23): each call yields the next scripted
// list of ModelEvents, in memory, and records the request. Steps can throw or hang until the
// caller aborts, so failures and interrupts are scriptable without a server.
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { Usage } from "../thread/thread-event.js";
import type { ConversationItem, ModelCallOptions, ModelClient, ModelEvent, ModelRequest } from "./model-client.js";

export type ScriptedModelStep =
  | ModelEvent
  /** Throws this error at this point of the stream. */
  | { type: "throw"; error: unknown }
  /** Yields nothing more until the call's signal aborts (then throws its reason). */
  | { type: "hang" };

/** One call's steps, or a function of the request (e.g. to echo a tool output). */
export type ScriptedModelTurn = ScriptedModelStep[] | ((request: ModelRequest, index: number) => ScriptedModelStep[]);

export const ZERO_USAGE: Usage = { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningOutputTokens: 0 };

export class ScriptedModelClient implements ModelClient {
  /** Every request, copied when it was made. */
  readonly requests: ModelRequest[] = [];
  readonly #script: ScriptedModelTurn[];

  constructor(script: ScriptedModelTurn[]) {
    this.#script = script;
  }

  async *stream(request: ModelRequest, options: ModelCallOptions): AsyncIterable<ModelEvent> {
    const { signal } = options;
    const index = this.requests.length;
    this.requests.push(structuredClone(request));
    const turn = this.#script[index];
    if (turn === undefined) {
      throw new TetherError(ErrorCode.FailedPrecondition, `ScriptedModelClient: call #${index} is past the end of the script (${this.#script.length} turns)`);
    }
    const steps = typeof turn === "function" ? turn(request, index) : turn;
    for (const step of steps) {
      if (signal.aborted) throw reasonOf(signal);
      if (step.type === "throw") throw step.error;
      if (step.type === "hang") {
        await new Promise<never>((_, reject) => {
          if (signal.aborted) reject(reasonOf(signal));
          signal.addEventListener("abort", () => reject(reasonOf(signal)), { once: true });
        });
      }
      // A real stream hands events out asynchronously: so does the fake.
      await Promise.resolve();
      yield step as ModelEvent;
    }
  }

  /**
   * Throws unless each function call a call yielded was answered by exactly one output in the
   * next request (the scripted Responses server's check, for the in-memory fake).
   */
  check(): void {
    const problems: string[] = [];
    this.#script.forEach((turn, i) => {
      if (typeof turn === "function" || i >= this.requests.length) return;
      const calls = turn.flatMap((s) => (s.type === "item.done" && s.item.type === "function_call" ? [s.item.callId] : []));
      if (calls.length === 0) return;
      const next = this.requests[i + 1];
      if (next === undefined) return void problems.push(`call #${i} asked for ${calls.join(", ")} but no request followed`);
      for (const id of calls) {
        const n = next.input.filter((item) => item.type === "function_call_output" && item.callId === id).length;
        if (n !== 1) problems.push(`call ${id} of call #${i} got ${n} outputs in call #${i + 1} (expected exactly 1)`);
      }
    });
    if (problems.length > 0) throw new Error(`ScriptedModelClient check failed:\n- ${problems.join("\n- ")}`);
  }
}

function reasonOf(signal: AbortSignal): unknown {
  const reason: unknown = signal.reason;
  return reason instanceof TetherError ? reason : new TetherError(ErrorCode.Cancelled, "the model request was cancelled", { cause: reason });
}

/** Builders for the common turns, so tests read as what the model does. */
export const modelSays = {
  /** A response that answers with text (streamed as one delta per word). */
  text(text: string, opts: { responseId?: string; usage?: Usage } = {}): ModelEvent[] {
    const id = opts.responseId ?? "resp_text";
    const itemId = `${id}_msg`;
    const deltas = text.split(/(?<= )/).map((delta): ModelEvent => ({ type: "text.delta", itemId, delta }));
    return [
      { type: "created", responseId: id },
      ...deltas,
      { type: "item.done", itemId, item: { type: "message", role: "assistant", text } },
      { type: "completed", responseId: id, usage: opts.usage ?? ZERO_USAGE },
    ];
  },
  /** A response that asks for tool calls (arguments given as objects are sent as JSON). */
  calls(calls: { name: string; arguments: Record<string, unknown> | string; callId: string }[], opts: { responseId?: string; usage?: Usage } = {}): ModelEvent[] {
    const id = opts.responseId ?? "resp_calls";
    const items = calls.map((c): ModelEvent => {
      const item: ConversationItem = {
        type: "function_call",
        callId: c.callId,
        name: c.name,
        arguments: typeof c.arguments === "string" ? c.arguments : JSON.stringify(c.arguments),
      };
      return { type: "item.done", itemId: `fc_${c.callId}`, item };
    });
    return [{ type: "created", responseId: id }, ...items, { type: "completed", responseId: id, usage: opts.usage ?? ZERO_USAGE }];
  },
};

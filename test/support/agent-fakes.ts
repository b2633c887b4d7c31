// Small fakes for agent-core unit tests: a model that replays scripted steps (each step sees
// the request, so tests check what the model was given) and a tool set built from plain
// functions. The e2e suites use the scripted Responses server and the real tools instead.
import type { ConversationItem, ModelClient, ModelEvent, ModelRequest } from "../../services/agent-server/model/model-client.js";
import type { ThreadServicesFactory, ThreadTools } from "../../services/agent-server/thread/thread-services.js";
import { basicThreadPolicy } from "../../services/agent-server/thread/basic-thread-policy.js";
import type { ToolContext, ToolResult } from "../../services/agent-server/tools/tool.js";
import { TetherError, cancelled } from "../../services/common/tether-error.js";

export type Step = (request: ModelRequest, signal: AbortSignal) => AsyncIterable<ModelEvent>;

const USAGE = { inputTokens: 10, cachedInputTokens: 0, outputTokens: 5, reasoningOutputTokens: 0 };

/** A step answering with text (streamed in two deltas). */
export function say(text: string): Step {
  return async function* () {
    yield { type: "created", responseId: "r" };
    const id = `msg_${Math.random().toString(36).slice(2)}`;
    yield { type: "text.delta", itemId: id, delta: text.slice(0, 1) };
    yield { type: "text.delta", itemId: id, delta: text.slice(1) };
    yield { type: "item.done", itemId: id, item: { type: "message", role: "assistant", text } };
    yield { type: "completed", responseId: "r", usage: USAGE };
  };
}

/** A step calling one tool. */
export function call(name: string, args: unknown, callId = `call_${Math.random().toString(36).slice(2)}`): Step {
  return async function* () {
    yield { type: "created", responseId: "r" };
    const item: ConversationItem = { type: "function_call", callId, name, arguments: JSON.stringify(args) };
    yield { type: "item.done", itemId: callId, item };
    yield { type: "completed", responseId: "r", usage: USAGE };
  };
}

/** A step that never answers until aborted (start-up timeout, interrupt). */
export function hang(): Step {
  return async function* (_req, signal) {
    await new Promise<void>((_resolve, reject) => {
      if (signal.aborted) reject(TetherError.from(signal.reason ?? cancelled()));
      signal.addEventListener("abort", () => reject(TetherError.from(signal.reason ?? cancelled())), { once: true });
    });
  };
}

export class FakeModel implements ModelClient {
  readonly requests: ModelRequest[] = [];
  readonly #steps: Step[];
  /** Resolves each time a request arrives (index = request number). */
  #waiters: { n: number; resolve: () => void }[] = [];

  constructor(steps: Step[]) {
    this.#steps = [...steps];
  }

  stream(request: ModelRequest, options: { signal: AbortSignal }): AsyncIterable<ModelEvent> {
    this.requests.push(structuredClone(request));
    for (const w of this.#waiters.filter((w) => w.n <= this.requests.length)) w.resolve();
    this.#waiters = this.#waiters.filter((w) => w.n > this.requests.length);
    const step = this.#steps.shift();
    if (!step) throw new Error(`the fake model has no step for request ${this.requests.length}`);
    return step(request, options.signal);
  }

  /** Resolves once `n` requests were made. */
  requested(n: number): Promise<void> {
    if (this.requests.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }
}

export type FakeTool = (args: Record<string, unknown>, ctx: ToolContext) => Promise<ToolResult>;

export function fakeServices(tools: Record<string, FakeTool>, hooks: { terminated?: string[] } = {}): ThreadServicesFactory {
  const set: ThreadTools = {
    specs: Object.keys(tools).map((name) => ({ name, description: name, parameters: { type: "object" } })),
    async run(c, ctx) {
      const tool = tools[c.name];
      if (!tool) return { output: `unknown tool ${c.name}`, success: false };
      return tool(JSON.parse(c.arguments) as Record<string, unknown>, ctx);
    },
    async terminateTurn(turnId) {
      hooks.terminated?.push(turnId);
    },
    async closeAll() {},
  };
  return { tools: () => set, policy: () => basicThreadPolicy() };
}

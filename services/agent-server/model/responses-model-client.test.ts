import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../../test/support/manual-clock.js";
import { startResponsesServer, toolOutput, type ResponsesServer, type Script } from "../../../test/support/responses-server.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { ModelEvent, ModelRequest } from "./model-client.js";
import { ResponsesModelClient, type ResponsesModelClientOptions } from "./responses-model-client.js";

let server: ResponsesServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function setup(script: Script, options: ResponsesModelClientOptions = {}) {
  server = await startResponsesServer({ script });
  const clock = new ManualClock();
  const client = new ResponsesModelClient({ apiKey: "sk-test", baseURL: server.url, clock, random: () => 0.5, ...options });
  return { server, clock, client };
}

const request: ModelRequest = {
  model: "gpt-test",
  instructions: "be brief",
  input: [{ type: "message", role: "user", text: "hi" }],
  tools: [],
};

/** Runs one call to its end; returns the events and the error it threw, if any. */
async function collect(stream: AsyncIterable<ModelEvent>, onEvent: (e: ModelEvent) => void = () => {}) {
  const events: ModelEvent[] = [];
  try {
    for await (const e of stream) {
      events.push(e);
      onEvent(e);
    }
    return { events, error: undefined };
  } catch (error) {
    return { events, error: error as TetherError };
  }
}

function gate() {
  let open = () => {};
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

describe("ResponsesModelClient", () => {
  it("streams deltas and finished items in order, then usage, from the request it mapped", async () => {
    const { server, client } = await setup([
      [
        { type: "reasoning", summary: ["first", "second"], encryptedContent: "enc" },
        { type: "message", text: "hello world", deltas: ["hello ", "world"] },
        { type: "function_call", name: "exec_command", arguments: { cmd: "ls" }, callId: "call_1" },
        { type: "completed", usage: { inputTokens: 11, cachedInputTokens: 4, outputTokens: 6, reasoningOutputTokens: 2 } },
      ],
    ]);
    const { events, error } = await collect(
      client.stream(
        {
          ...request,
          tools: [{ name: "exec_command", description: "run", parameters: { type: "object", properties: {}, additionalProperties: false } }],
          outputSchema: { name: "answer", schema: { type: "object" } },
          reasoning: { effort: "low", summary: "auto" },
          promptCacheKey: "thread-1",
        },
        { signal: AbortSignal.timeout(30_000) },
      ),
    );
    expect(error).toBeUndefined();
    expect(events.map((e) => (e.type.endsWith("delta") ? `${e.type}:${(e as { delta: string }).delta}` : e.type))).toEqual([
      "created",
      "reasoning.delta:first",
      "reasoning.delta:\n\n",
      "reasoning.delta:second",
      "item.done",
      "text.delta:hello ",
      "text.delta:world",
      "item.done",
      "call.started",
      "item.done",
      "completed",
    ]);
    expect(events.find((e) => e.type === "call.started")).toMatchObject({ name: "exec_command" });
    expect(events.filter((e) => e.type === "item.done").map((e) => e.item)).toEqual([
      { type: "reasoning", id: "rs_1_0", summary: ["first", "second"], encryptedContent: "enc" },
      { type: "message", role: "assistant", text: "hello world" },
      { type: "function_call", callId: "call_1", name: "exec_command", arguments: '{"cmd":"ls"}' },
    ]);
    expect(events.at(-1)).toEqual({ type: "completed", responseId: "resp_1", usage: { inputTokens: 11, cachedInputTokens: 4, outputTokens: 6, reasoningOutputTokens: 2 } });
    expect(server.requests[0]).toMatchObject({
      model: "gpt-test",
      instructions: "be brief",
      stream: true,
      store: false,
      input: [{ type: "message", role: "user", content: [{ type: "input_text", text: "hi" }] }],
      tools: [{ type: "function", name: "exec_command", strict: true }],
      parallel_tool_calls: true,
      text: { format: { type: "json_schema", name: "answer", strict: true } },
      reasoning: { effort: "low", summary: "auto" },
      include: ["reasoning.encrypted_content"],
      prompt_cache_key: "thread-1",
    });
    expect(server.received[0]?.headers.authorization).toBe("Bearer sk-test");
  });

  it("carries a function call and its output back in the next request", async () => {
    const { server, client } = await setup([
      [{ type: "function_call", name: "exec_command", arguments: { cmd: "true" }, callId: "call_7" }],
      [(req) => ({ type: "message", text: `output was ${toolOutput(req, "call_7")}` })],
    ]);
    const first = await collect(client.stream(request, { signal: AbortSignal.timeout(30_000) }));
    const call = first.events.find((e) => e.type === "item.done")?.item;
    expect(call).toEqual({ type: "function_call", callId: "call_7", name: "exec_command", arguments: '{"cmd":"true"}' });
    const second = await collect(
      client.stream(
        { ...request, input: [...request.input, call!, { type: "function_call_output", callId: "call_7", output: "exit 0" }] },
        { signal: AbortSignal.timeout(30_000) },
      ),
    );
    expect(second.events.find((e) => e.type === "item.done")?.item).toEqual({ type: "message", role: "assistant", text: "output was exit 0" });
    expect(server.requests[1]?.input).toEqual([
      { type: "message", role: "user", content: [{ type: "input_text", text: "hi" }] },
      { type: "function_call", call_id: "call_7", name: "exec_command", arguments: '{"cmd":"true"}' },
      { type: "function_call_output", call_id: "call_7", output: "exit 0" },
    ]);
    server.check();
  });

  it("retries a 429 after the Retry-After the server asked for, on the injected clock", async () => {
    const { server, clock, client } = await setup([[{ type: "http_error", status: 429, retryAfter: "2" }], [{ type: "message", text: "ok" }]]);
    const run = collect(client.stream(request, { signal: AbortSignal.timeout(30_000) }));
    await clock.waitForTimer((t) => t.ms === 2000);
    expect(server.requests).toHaveLength(1);
    clock.advance(2000);
    const { events, error } = await run;
    expect(error).toBeUndefined();
    expect(events[0]).toMatchObject({ type: "retrying", attempt: 2, maxAttempts: 5, delayMs: 2000 });
    expect((events[0] as { reason: string }).reason).toMatch(/429/);
    expect(events.slice(1).map((e) => e.type)).toEqual(["created", "text.delta", "item.done", "completed"]);
    expect(server.requests).toHaveLength(2);
  });

  it("honours retry-after-ms before retry-after", async () => {
    const { clock, client } = await setup([[{ type: "http_error", status: 503, retryAfter: "9", retryAfterMs: 1250 }], [{ type: "message", text: "ok" }]]);
    const run = collect(client.stream(request, { signal: AbortSignal.timeout(30_000) }));
    clock.advance((await clock.waitForTimer((t) => t.ms === 1250)).ms);
    expect((await run).events[0]).toMatchObject({ type: "retrying", delayMs: 1250 });
  });

  it("gives up with UNAVAILABLE naming the last cause when 500s use up the attempts", async () => {
    const failure = { type: "http_error" as const, status: 500, body: { error: { message: "engine exploded", type: "server_error" } } };
    const { server, clock, client } = await setup([[failure], [failure], [failure]], { maxAttempts: 3 });
    const run = collect(client.stream(request, { signal: AbortSignal.timeout(30_000) }));
    // Backoff doubles from 500 ms; random() = 0.5 puts the jitter at its midpoint.
    for (const ms of [500, 1000]) clock.advance((await clock.waitForTimer((t) => t.ms === ms)).ms);
    const { events, error } = await run;
    expect(events.map((e) => e.type === "retrying" && [e.attempt, e.delayMs])).toEqual([[2, 500], [3, 1000]]);
    expect(error).toBeInstanceOf(TetherError);
    expect(error?.code).toBe(ErrorCode.Unavailable);
    expect(error?.message).toMatch(/failed 3 times.*500: engine exploded/);
    expect(server.requests).toHaveLength(3);
  });

  it("retries a stream dropped mid-message, telling the caller to drop the partial text", async () => {
    const seen = gate();
    const { server, clock, client } = await setup([
      [{ type: "message", text: "part of it", deltas: ["part ", "of ", "it"], partial: true }, { type: "wait", until: seen.promise }, { type: "drop" }],
      [{ type: "message", text: "all of it", deltas: ["all ", "of ", "it"] }],
    ]);
    const run = collect(client.stream(request, { signal: AbortSignal.timeout(30_000) }), (e) => {
      if (e.type === "text.delta") seen.open();
    });
    clock.advance((await clock.waitForTimer((t) => t.ms === 500)).ms);
    const { events, error } = await run;
    expect(error).toBeUndefined();
    const retry = events.findIndex((e) => e.type === "retrying");
    expect(events.slice(0, retry).map((e) => e.type)).toEqual(["created", "text.delta", "text.delta", "text.delta"]);
    expect(events[retry]).toMatchObject({ attempt: 2, reason: expect.stringMatching(/ended early|broke/) as unknown });
    expect(events.slice(retry + 1).map((e) => e.type)).toEqual(["created", "text.delta", "text.delta", "text.delta", "item.done", "completed"]);
    expect(server.served.map((s) => s.outcome)).toEqual(["dropped", "completed"]);
  });

  it("does not retry a drop after an item was handed out", async () => {
    const handedOut = gate();
    const { server, client } = await setup([
      [{ type: "function_call", name: "f", arguments: "{}" }, { type: "wait", until: handedOut.promise }, { type: "drop" }],
      [{ type: "message", text: "never" }],
    ]);
    const { events, error } = await collect(client.stream(request, { signal: AbortSignal.timeout(30_000) }), (e) => {
      if (e.type === "item.done") handedOut.open();
    });
    expect(events.map((e) => e.type)).toEqual(["created", "call.started", "item.done"]);
    expect(error?.code).toBe(ErrorCode.Unavailable);
    expect(error?.message).toMatch(/not retried/);
    expect(server.requests).toHaveLength(1);
  });

  it("fails malformed SSE with DATA_LOSS and does not retry", async () => {
    const { server, client } = await setup([[{ type: "message", text: "x" }, { type: "malformed" }], [{ type: "message", text: "never" }]]);
    const { error } = await collect(client.stream(request, { signal: AbortSignal.timeout(30_000) }));
    expect(error?.code).toBe(ErrorCode.DataLoss);
    expect(error?.message).toMatch(/malformed event stream/);
    expect(server.requests).toHaveLength(1);
  });

  it("fails a bad key with UNAUTHENTICATED saying to set OPENAI_API_KEY", async () => {
    const body = { error: { message: "Incorrect API key provided", type: "invalid_request_error", code: "invalid_api_key" } };
    const { client } = await setup([[{ type: "http_error", status: 401, body }]]);
    const { error } = await collect(client.stream(request, { signal: AbortSignal.timeout(30_000) }));
    expect(error?.code).toBe(ErrorCode.Unauthenticated);
    expect(error?.message).toMatch(/Incorrect API key provided.*set OPENAI_API_KEY/);
  });

  it("fails an unknown model with NOT_FOUND naming the model", async () => {
    const body = { error: { message: "The model `gpt-test` does not exist", type: "invalid_request_error", code: "model_not_found" } };
    const { client } = await setup([[{ type: "http_error", status: 404, body }]]);
    const { error } = await collect(client.stream(request, { signal: AbortSignal.timeout(30_000) }));
    expect(error?.code).toBe(ErrorCode.NotFound);
    expect(error?.message).toMatch(/model "gpt-test" not found/);
  });

  it("fails with DEADLINE_EXCEEDED when response.created does not come within the start-up timeout, and cancels the request", async () => {
    const { server, clock, client } = await setup([[{ type: "hang" }]]);
    const run = collect(client.stream(request, { signal: AbortSignal.timeout(30_000) }));
    await server.waitForRequests(1);
    clock.advance((await clock.waitForTimer((t) => t.ms === 15_000)).ms);
    const { error } = await run;
    expect(error?.code).toBe(ErrorCode.DeadlineExceeded);
    expect(error?.message).toMatch(/the model did not start answering within 15 s/);
    await server.waitForServed(1);
    expect(server.served[0]?.outcome).toBe("client_closed");
  });

  it("applies the start-up timeout while the server has not even sent headers", async () => {
    const { server, clock, client } = await setup([[{ type: "hang", beforeHeaders: true }]], { startupTimeoutMs: 2000 });
    const run = collect(client.stream(request, { signal: AbortSignal.timeout(30_000) }));
    await server.waitForRequests(1);
    clock.advance((await clock.waitForTimer((t) => t.ms === 2000)).ms);
    const { error } = await run;
    expect(error?.code).toBe(ErrorCode.DeadlineExceeded);
    expect(error?.message).toMatch(/within 2 s/);
    await server.waitForServed(1);
  });

  it("counts a stream silent past the idle timeout as dropped, and retries it", async () => {
    const { server, clock, client } = await setup(
      [[{ type: "message", text: "stuck", partial: true }, { type: "hang" }], [{ type: "message", text: "flowing" }]],
      { streamIdleTimeoutMs: 60_000 },
    );
    const run = collect(client.stream(request, { signal: AbortSignal.timeout(30_000) }));
    clock.advance((await clock.waitForTimer((t) => t.ms === 60_000)).ms);
    clock.advance((await clock.waitForTimer((t) => t.ms === 500)).ms);
    const { events, error } = await run;
    expect(error).toBeUndefined();
    expect(events.find((e) => e.type === "retrying")).toMatchObject({ attempt: 2, reason: expect.stringMatching(/no event for 60 s/) as unknown });
    expect(events.at(-2)).toMatchObject({ type: "item.done", item: { text: "flowing" } });
    await server.waitForServed(2);
    expect(Object.fromEntries(server.served.map((s) => [s.requestIndex, s.outcome]))).toEqual({ 0: "client_closed", 1: "completed" });
  });

  it("cancels the HTTP request at once when the caller aborts mid-stream", async () => {
    const { server, client } = await setup([[{ type: "message", text: "one two", partial: true }, { type: "hang" }]]);
    const abort = new AbortController();
    const reason = new TetherError(ErrorCode.Cancelled, "turn interrupted");
    const { events, error } = await collect(client.stream(request, { signal: abort.signal }), (e) => {
      if (e.type === "text.delta") abort.abort(reason);
    });
    expect(events.map((e) => e.type)).toEqual(["created", "text.delta"]);
    expect(error).toBe(reason);
    await server.waitForServed(1);
    expect(server.served[0]?.outcome).toBe("client_closed");
  });

  it("fails without an API key with UNAUTHENTICATED, and reads key and base URL from the environment", async () => {
    const missing = new ResponsesModelClient({ env: {} });
    const { error } = await collect(missing.stream(request, { signal: AbortSignal.timeout(30_000) }));
    expect(error?.code).toBe(ErrorCode.Unauthenticated);
    expect(error?.message).toMatch(/set OPENAI_API_KEY/);
    server = await startResponsesServer({ script: [[{ type: "message", text: "from env" }]] });
    const fromEnv = new ResponsesModelClient({ env: { OPENAI_API_KEY: "sk-env", OPENAI_BASE_URL: server.url } });
    expect(fromEnv.baseURL).toBe(server.url);
    const ok = await collect(fromEnv.stream(request, { signal: AbortSignal.timeout(30_000) }));
    expect(ok.error).toBeUndefined();
    expect(server.received[0]?.headers.authorization).toBe("Bearer sk-env");
  });

  it("classifies response.failed: a context overflow is final, a server error is retried", async () => {
    const { server, clock, client } = await setup([
      [{ type: "failed", code: "server_error", message: "try again" }],
      [{ type: "failed", code: "context_length_exceeded", message: "too long" }],
    ]);
    const run = collect(client.stream(request, { signal: AbortSignal.timeout(30_000) }));
    clock.advance((await clock.waitForTimer((t) => t.ms === 500)).ms);
    const { events, error } = await run;
    expect(events.filter((e) => e.type === "retrying")).toHaveLength(1);
    expect(error?.code).toBe(ErrorCode.ResourceExhausted);
    expect(error?.message).toMatch(/context window: too long/);
    expect(server.requests).toHaveLength(2);
  });

  it("ends an incomplete response with completed and the reason", async () => {
    const { client } = await setup([[{ type: "message", text: "cut sho" }, { type: "incomplete", reason: "max_output_tokens" }]]);
    const { events, error } = await collect(client.stream(request, { signal: AbortSignal.timeout(30_000) }));
    expect(error).toBeUndefined();
    expect(events.at(-1)).toMatchObject({ type: "completed", incompleteReason: "max_output_tokens" });
  });

  it("fails an exhausted quota with RESOURCE_EXHAUSTED and does not retry it", async () => {
    const body = { error: { message: "You exceeded your current quota", type: "insufficient_quota", code: "insufficient_quota" } };
    const { server, client } = await setup([[{ type: "http_error", status: 429, body }]]);
    const { error } = await collect(client.stream(request, { signal: AbortSignal.timeout(30_000) }));
    expect(error?.code).toBe(ErrorCode.ResourceExhausted);
    expect(server.requests).toHaveLength(1);
  });

  it("fails instead of waiting when the server asks for a retry later than allowed", async () => {
    const { client } = await setup([[{ type: "http_error", status: 429, retryAfter: "3600" }]]);
    const { error } = await collect(client.stream(request, { signal: AbortSignal.timeout(30_000) }));
    expect(error?.code).toBe(ErrorCode.Unavailable);
    expect(error?.message).toMatch(/retry after 3600 s/);
  });
});

import OpenAI from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { startResponsesServer, toolOutput, type ResponsesServer, type Script } from "./responses-server.js";

let server: ResponsesServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(script: Script): Promise<ResponsesServer> {
  server = await startResponsesServer({ script });
  return server;
}

/** Posts a streaming request and parses the SSE answer into (event name, data) pairs. */
async function postStream(url: string, body: Record<string, unknown>): Promise<{ status: number; events: { event: string; data: Record<string, unknown> }[] }> {
  const res = await fetch(`${url}/responses`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ stream: true, ...body }),
  });
  const text = await res.text();
  const events = text
    .split("\n\n")
    .filter((frame) => frame.length > 0)
    .map((frame) => {
      const lines = frame.split("\n");
      const event = lines.find((l) => l.startsWith("event: "))?.slice(7) ?? "";
      const data = JSON.parse(lines.find((l) => l.startsWith("data: "))?.slice(6) ?? "null") as Record<string, unknown>;
      return { event, data };
    });
  return { status: res.status, events };
}

function sdk(url: string): OpenAI {
  return new OpenAI({ apiKey: "sk-test", baseURL: url, maxRetries: 0 });
}

describe("startResponsesServer", () => {
  it("streams a message as the Responses event sequence with sequence numbers", async () => {
    const s = await start([[{ type: "message", text: "hello there world", deltas: ["hello ", "there ", "world"] }]]);
    const { status, events } = await postStream(s.url, { model: "m", input: "hi" });
    expect(status).toBe(200);
    expect(events.map((e) => e.event)).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    expect(events.map((e) => e.data.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events.every((e) => e.data.type === e.event)).toBe(true);
    const completed = events.at(-1)?.data.response as Record<string, unknown>;
    expect(completed.status).toBe("completed");
    expect(completed.usage).toMatchObject({ input_tokens: 100, output_tokens: 20, total_tokens: 120 });
    expect(s.requests).toEqual([{ stream: true, model: "m", input: "hi" }]);
  });

  it("is parsed by the openai SDK: text, reasoning summary, function and custom tool calls, usage", async () => {
    const s = await start([
      [
        { type: "reasoning", summary: ["plan the work"] },
        { type: "message", text: "running it" },
        { type: "function_call", name: "exec_command", arguments: { cmd: "echo hi" }, callId: "call_a" },
        { type: "custom_tool_call", name: "apply_patch", input: "*** Begin Patch\n*** End Patch", callId: "call_b" },
        { type: "completed", usage: { inputTokens: 7, cachedInputTokens: 3, outputTokens: 5, reasoningOutputTokens: 2 } },
      ],
    ]);
    const stream = await sdk(s.url).responses.create({ model: "m", input: "go", stream: true });
    const types: string[] = [];
    let text = "";
    let reasoning = "";
    const done: unknown[] = [];
    let usage: unknown;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "response.output_text.delta") text += event.delta;
      if (event.type === "response.reasoning_summary_text.delta") reasoning += event.delta;
      if (event.type === "response.output_item.done") done.push(event.item);
      if (event.type === "response.completed") usage = event.response.usage;
    }
    expect(text).toBe("running it");
    expect(reasoning).toBe("plan the work");
    expect(types).toContain("response.function_call_arguments.delta");
    expect(types).toContain("response.custom_tool_call_input.delta");
    expect(done).toMatchObject([
      { type: "reasoning", summary: [{ type: "summary_text", text: "plan the work" }] },
      { type: "message", role: "assistant", content: [{ type: "output_text", text: "running it" }] },
      { type: "function_call", name: "exec_command", call_id: "call_a", arguments: '{"cmd":"echo hi"}' },
      { type: "custom_tool_call", name: "apply_patch", call_id: "call_b", input: "*** Begin Patch\n*** End Patch" },
    ]);
    expect(usage).toMatchObject({ input_tokens: 7, input_tokens_details: { cached_tokens: 3 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 2 } });
    expect(() => s.check()).toThrow(/call_a .* got 0 outputs|no request followed/);
  });

  it("lets a step react to the tool output of the request, and check() passes when each call got one output", async () => {
    const s = await start([
      [{ type: "function_call", name: "exec_command", arguments: { cmd: "true" }, callId: "c1" }],
      [(req) => ({ type: "message", text: `got ${toolOutput(req, "c1")}` })],
    ]);
    const client = sdk(s.url);
    for await (const _ of await client.responses.create({ model: "m", input: "go", stream: true })) void _;
    const final = await client.responses.create({
      model: "m",
      input: [
        { type: "function_call", call_id: "c1", name: "exec_command", arguments: "{}" },
        { type: "function_call_output", call_id: "c1", output: "exit 0" },
      ],
    });
    expect(final.output_text).toBe("got exit 0");
    expect(() => s.check()).not.toThrow();
  });

  it("check() names a call answered twice", async () => {
    const s = await start([[{ type: "function_call", name: "f", arguments: "{}", callId: "c1" }], [{ type: "message", text: "ok" }]]);
    await postStream(s.url, { model: "m", input: "x" });
    const twice = { type: "function_call_output", call_id: "c1", output: "o" };
    await postStream(s.url, { model: "m", input: [twice, twice] });
    expect(() => s.check()).toThrow(/call c1 of resp_1 got 2 outputs in request #1/);
  });

  it("answers an HTTP error with retry-after headers and the OpenAI error body", async () => {
    const s = await start([[{ type: "http_error", status: 429, retryAfter: "2", retryAfterMs: 1500 }], [{ type: "message", text: "ok" }]]);
    const err = await sdk(s.url)
      .responses.create({ model: "m", input: "x", stream: true })
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const rate = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(rate.headers.get("retry-after")).toBe("2");
    expect(rate.headers.get("retry-after-ms")).toBe("1500");
    expect(s.served[0]?.outcome).toBe("http_error");
  });

  it("drops the connection mid-stream", async () => {
    let resolveRead = () => {};
    const read = { promise: new Promise<void>((r) => (resolveRead = r)), resolve: () => resolveRead() };
    const s = await start([[{ type: "message", text: "partial" }, { type: "wait", until: read.promise }, { type: "drop" }]]);
    const stream = await sdk(s.url).responses.create({ model: "m", input: "x", stream: true });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const e of stream) {
        seen.push(e.type);
        if (e.type === "response.output_item.done") read.resolve();
      }
    })().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(seen).toContain("response.output_item.done");
    expect(seen).not.toContain("response.completed");
    expect(s.served[0]?.outcome).toBe("dropped");
  });

  it("sends malformed SSE data that the SDK rejects", async () => {
    const s = await start([[{ type: "malformed" }]]);
    const stream = await sdk(s.url).responses.create({ model: "m", input: "x", stream: true });
    const err = await (async () => {
      for await (const _ of stream) void _;
    })().then(() => undefined, (e: unknown) => e);
    expect(String(err)).toMatch(/malformed/);
  });

  it("hangs until the client aborts, and records that the client went away", async () => {
    const s = await start([[{ type: "hang" }]]);
    const ac = new AbortController();
    const pending = fetch(`${s.url}/responses`, { method: "POST", body: JSON.stringify({ stream: true, input: "x" }), signal: ac.signal }).then((r) => r.text());
    await s.waitForRequests(1);
    ac.abort();
    await expect(pending).rejects.toThrow();
    await s.waitForServed(1);
    expect(s.served[0]?.outcome).toBe("client_closed");
  });

  it("delays response.created after the headers", async () => {
    const s = await start([[{ type: "delay", ms: 30 }, { type: "message", text: "late" }]]);
    const res = await fetch(`${s.url}/responses`, { method: "POST", body: JSON.stringify({ stream: true, input: "x" }) });
    expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
    const t0 = performance.now();
    const text = await res.text();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(20);
    expect(text.startsWith("event: response.created")).toBe(true);
  });

  it("keeps only the last keepBodies bodies and still checks every call", async () => {
    server = await startResponsesServer({
      keepBodies: 1,
      script: (req) => (req.index < 3 ? [{ type: "function_call", name: "f", arguments: "{}", callId: `c${req.index}` }] : [{ type: "message", text: "end" }]),
    });
    for (let i = 0; i < 4; i++) {
      const input = i === 0 ? "go" : [{ type: "function_call_output", call_id: `c${i - 1}`, output: "ok" }];
      await postStream(server.url, { model: "m", input });
    }
    expect(server.requests.slice(0, 3)).toEqual([{}, {}, {}]);
    expect(server.requests[3]).toMatchObject({ input: [{ call_id: "c2" }] });
    expect(() => server!.check()).not.toThrow();
  });

  it("fails past the end of the script with a 400 and a check() problem", async () => {
    const s = await start([]);
    const { status } = await postStream(s.url, { model: "m", input: "x" });
    expect(status).toBe(400);
    expect(() => s.check()).toThrow(/past the end of the script/);
  });

  it("serves an open-ended script function and answers 404 elsewhere", async () => {
    const s = await start((req) => (req.index < 3 ? [{ type: "message", text: `n${req.index}` }] : undefined));
    const client = sdk(s.url);
    for (let i = 0; i < 3; i++) expect((await client.responses.create({ model: "m", input: "x" })).output_text).toBe(`n${i}`);
    expect((await fetch(`${s.url}/models`)).status).toBe(404);
  });
});

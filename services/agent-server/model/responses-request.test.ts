import { afterEach, describe, expect, it, vi } from "vitest";
import type { ConversationItem, ModelRequest } from "./model-client.js";
import { toResponsesBody, toResponsesJson } from "./responses-request.js";

describe("toResponsesBody", () => {
  it("maps every conversation item kind, passing reasoning back only with its encrypted content", () => {
    const body = toResponsesBody({
      model: "m",
      instructions: "base",
      input: [
        { type: "message", role: "developer", text: "dev note" },
        { type: "message", role: "user", text: "do it" },
        { type: "reasoning", id: "rs_1", summary: ["thought"], encryptedContent: "ENC" },
        { type: "reasoning", id: "rs_2", summary: ["not kept"] },
        { type: "function_call", callId: "c1", name: "exec_command", arguments: "{}" },
        { type: "function_call_output", callId: "c1", output: "ok" },
        { type: "message", role: "assistant", text: "done" },
      ],
      tools: [],
    });
    expect(body.input).toEqual([
      { type: "message", role: "developer", content: [{ type: "input_text", text: "dev note" }] },
      { type: "message", role: "user", content: [{ type: "input_text", text: "do it" }] },
      { type: "reasoning", id: "rs_1", summary: [{ type: "summary_text", text: "thought" }], encrypted_content: "ENC" },
      { type: "function_call", call_id: "c1", name: "exec_command", arguments: "{}" },
      { type: "function_call_output", call_id: "c1", output: "ok" },
      { type: "message", role: "assistant", content: "done" },
    ]);
    // No tools: no tool fields; no reasoning: no include (non-reasoning models reject it).
    expect(body).not.toHaveProperty("tools");
    expect(body).not.toHaveProperty("parallel_tool_calls");
    expect(body).not.toHaveProperty("include");
    expect(body).toMatchObject({ model: "m", instructions: "base", stream: true, store: false });
  });

  it("offers strict function tools and honours parallelToolCalls: false", () => {
    const body = toResponsesBody({
      model: "m",
      instructions: "",
      input: [],
      tools: [{ name: "t", description: "d", parameters: { type: "object", properties: {}, required: [], additionalProperties: false } }],
      parallelToolCalls: false,
    });
    expect(body.tools).toEqual([{ type: "function", name: "t", description: "d", parameters: { type: "object", properties: {}, required: [], additionalProperties: false }, strict: true }]);
    expect(body).toMatchObject({ tool_choice: "auto", parallel_tool_calls: false });
  });
});

describe("toResponsesJson", () => {
  afterEach(() => vi.restoreAllMocks());
  const tools: ModelRequest["tools"] = [{ name: "t", description: "d", parameters: { type: "object", properties: {}, required: [], additionalProperties: false } }];
  const history = (calls: number): ConversationItem[] => [
    { type: "message", role: "user", text: "go \"quoted\" \u2028 é" },
    { type: "reasoning", id: "rs_0", summary: ["dropped: no encrypted content"] },
    ...Array.from({ length: calls }, (_, i): ConversationItem[] => [
      { type: "function_call", callId: `c${i}`, name: "exec_command", arguments: `{"cmd":"true ${i}"}` },
      { type: "function_call_output", callId: `c${i}`, output: `out ${i}\n` },
    ]).flat(),
  ];

  it("is the JSON of toResponsesBody, whatever the request holds", () => {
    const requests: ModelRequest[] = [
      { model: "m", instructions: "base", input: history(3), tools, reasoning: { effort: "low" }, promptCacheKey: "k", outputSchema: { name: "s", schema: { type: "object" } } },
      { model: "m", instructions: "", input: [], tools: [] },
      { model: "m", instructions: "i", input: [{ type: "reasoning", id: "r", summary: [] }], tools: [], parallelToolCalls: false },
    ];
    for (const r of requests) expect(JSON.parse(toResponsesJson(r))).toEqual(toResponsesBody(r));
  });

  it("serialises each history item once: a later request of the same thread only its new items", () => {
    const input = history(200);
    const first = toResponsesJson({ model: "m", instructions: "base", input, tools });
    const stringify = vi.spyOn(JSON, "stringify");
    input.push({ type: "function_call", callId: "new", name: "exec_command", arguments: "{}" });
    const next = toResponsesJson({ model: "m", instructions: "base", input, tools });
    // The new item and the request's few other fields: not the 402 earlier items, not the tools.
    expect(stringify.mock.calls.length).toBeLessThanOrEqual(2);
    expect(JSON.parse(next)).toEqual(toResponsesBody({ model: "m", instructions: "base", input, tools }));
    expect(next.length).toBeGreaterThan(first.length);
  });
});

import { describe, expect, it } from "vitest";
import { toResponsesBody } from "./responses-request.js";

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

import { describe, expect, it } from "vitest";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { ModelEvent, ModelRequest } from "./model-client.js";
import { modelSays, ScriptedModelClient } from "./scripted-model-client.js";

const request: ModelRequest = { model: "m", instructions: "", input: [{ type: "message", role: "user", text: "go" }], tools: [] };

async function drain(stream: AsyncIterable<ModelEvent>): Promise<ModelEvent[]> {
  const out: ModelEvent[] = [];
  for await (const e of stream) out.push(e);
  return out;
}

describe("ScriptedModelClient", () => {
  it("replays one scripted turn per call and records the requests", async () => {
    const model = new ScriptedModelClient([
      modelSays.calls([{ name: "exec_command", arguments: { cmd: "ls" }, callId: "c1" }]),
      (req) => modelSays.text(`saw ${req.input.length} items`),
    ]);
    const first = await drain(model.stream(request, { signal: new AbortController().signal }));
    expect(first.map((e) => e.type)).toEqual(["created", "item.done", "completed"]);
    const next: ModelRequest = {
      ...request,
      input: [...request.input, { type: "function_call", callId: "c1", name: "exec_command", arguments: "{}" }, { type: "function_call_output", callId: "c1", output: "ok" }],
    };
    const second = await drain(model.stream(next, { signal: new AbortController().signal }));
    expect(second.filter((e) => e.type === "text.delta").map((e) => e.delta).join("")).toBe("saw 3 items");
    expect(model.requests).toHaveLength(2);
    model.check();
  });

  it("check() names an unanswered call", async () => {
    const model = new ScriptedModelClient([modelSays.calls([{ name: "f", arguments: "{}", callId: "c9" }]), modelSays.text("done")]);
    await drain(model.stream(request, { signal: new AbortController().signal }));
    await drain(model.stream(request, { signal: new AbortController().signal }));
    expect(() => model.check()).toThrow(/call c9 of call #0 got 0 outputs/);
  });

  it("throws a scripted error mid-stream and fails past the end of the script", async () => {
    const error = new TetherError(ErrorCode.Unavailable, "boom");
    const model = new ScriptedModelClient([[{ type: "created", responseId: "r" }, { type: "throw", error }]]);
    const seen: ModelEvent[] = [];
    await expect(
      (async () => {
        for await (const e of model.stream(request, { signal: new AbortController().signal })) seen.push(e);
      })(),
    ).rejects.toBe(error);
    expect(seen.map((e) => e.type)).toEqual(["created"]);
    await expect(drain(model.stream(request, { signal: new AbortController().signal }))).rejects.toThrow(/past the end of the script/);
  });

  it("hangs until the signal aborts, then throws its reason", async () => {
    const model = new ScriptedModelClient([[{ type: "created", responseId: "r" }, { type: "hang" }]]);
    const abort = new AbortController();
    const reason = new TetherError(ErrorCode.Cancelled, "interrupted");
    const run = (async () => {
      for await (const e of model.stream(request, { signal: abort.signal })) if (e.type === "created") abort.abort(reason);
    })();
    await expect(run).rejects.toBe(reason);
  });
});

// Reasoning settings from config reach every request (with encrypted reasoning asked back,
// since nothing is stored server-side), the encrypted reasoning items go back in the next
// request's input, and a resumed thread (a new AgentCore over the same rollouts) sends them
// again in the same place: the rebuilt input is the input the model saw.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InProcessAgentClient } from "../../clients/agent/in-process-agent-client.js";
import { AgentCore } from "../../services/agent-server/agent-core.js";
import { defaultThreadServices } from "../../services/agent-server/default-agent-parts.js";
import { reasoningFromConfig } from "../../services/agent-server/model/model-client-options.js";
import { ResponsesModelClient } from "../../services/agent-server/model/responses-model-client.js";
import { watchThread } from "../support/agent-harness.js";
import { inputItems, startResponsesServer } from "../support/responses-server.js";

describe("reasoning from config, passed back encrypted and kept across resume", () => {
  let dir: string;
  let server: Awaited<ReturnType<typeof startResponsesServer>>;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "tether-reasoning-"));
    server = await startResponsesServer({
      script: [
        [{ type: "reasoning", summary: "I should look first", encryptedContent: "enc-one" }, { type: "function_call", name: "update_plan", callId: "p1", arguments: { plan: [{ step: "look", status: "in_progress" }] } }],
        [{ type: "reasoning", summary: "Now answer", encryptedContent: "enc-two" }, { type: "message", text: "done thinking" }],
        [{ type: "message", text: "after resume" }],
      ],
    });
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const core = () =>
    AgentCore.create({
      tetherHome: path.join(dir, "home"),
      model: new ResponsesModelClient({ baseURL: server.url, apiKey: "test-key", initialBackoffMs: 10, maxBackoffMs: 50 }),
      services: defaultThreadServices({ tetherHome: path.join(dir, "home") }),
      instructions: async () => "test",
      reasoning: reasoningFromConfig({ model_reasoning_effort: "high", model_reasoning_summary: "detailed" }),
    });

  it("sends reasoning settings, passes encrypted reasoning back, and rebuilds it on resume", async () => {
    expect(reasoningFromConfig({})).toBeUndefined();
    expect(reasoningFromConfig({ model_reasoning_summary: "none" })).toEqual({});

    let client = new InProcessAgentClient(await core(), { ownsCore: true });
    const thread = await client.startThread({ cwd: dir, environment: "local", model: "gpt-test", sandbox: "full-access", approvalPolicy: "never" });
    let watch = await watchThread(client, thread.threadId);
    await client.startTurn(thread.threadId, { text: "think" });
    expect((await watch.turnEnd()).type).toBe("turn.completed");
    watch.stop();
    await client.close();

    const first = server.requests[0]!;
    expect(first.reasoning).toEqual({ effort: "high", summary: "detailed" });
    expect(first.include).toEqual(["reasoning.encrypted_content"]);
    const second = inputItems(server.requests[1]!);
    const reasoning1 = second.findIndex((i) => i.type === "reasoning");
    expect(second[reasoning1]).toMatchObject({ type: "reasoning", encrypted_content: "enc-one", summary: [{ type: "summary_text", text: "I should look first" }] });
    // The reasoning comes before the call it led to, as the model produced them.
    expect(second[reasoning1 + 1]).toMatchObject({ type: "function_call", call_id: "p1" });

    client = new InProcessAgentClient(await core(), { ownsCore: true });
    await client.resumeThread(thread.threadId);
    watch = await watchThread(client, thread.threadId);
    await client.startTurn(thread.threadId, { text: "again" });
    expect((await watch.turnEnd()).type).toBe("turn.completed");
    watch.stop();
    await client.close();

    const third = server.requests[2]!;
    expect(third.reasoning).toEqual({ effort: "high", summary: "detailed" });
    const input = inputItems(third);
    // Everything the second request carried, then what the model answered, then the new user message.
    expect(input.slice(0, second.length)).toEqual(second);
    expect(input.slice(second.length).map((i) => (i.type === "reasoning" ? `reasoning:${String(i.encrypted_content)}` : String(i.type)))).toEqual(["reasoning:enc-two", "message", "message"]);
    server.check();
  });
});

// Full turns through AgentCore with the real model client over HTTP: the scripted Responses
// server, project instructions read through the thread's environment, retries and a broken
// stream as the thread sees them.
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { ThreadOptions } from "../../clients/agent/agent-client.js";
import { LocalEnvironment } from "../../clients/environment/local-environment.js";
import { AgentCore } from "../../services/agent-server/agent-core.js";
import { defaultInstructions } from "../../services/agent-server/default-agent-parts.js";
import { ResponsesModelClient } from "../../services/agent-server/model/responses-model-client.js";
import type { ThreadEvent } from "../../services/agent-server/thread/thread-event.js";
import { fakeServices } from "../support/agent-fakes.js";
import { agentRepoFixture } from "../support/agent-harness.js";
import { startResponsesServer, toolOutput, type ResponsesServer, type Script } from "../support/responses-server.js";

const fx = agentRepoFixture("tether-model-turns-");

async function setup(script: Script, startupTimeoutMs?: number): Promise<{ core: AgentCore; server: ResponsesServer }> {
  const server = fx.closeAfter(await startResponsesServer({ script }));
  const core = fx.closeAfter(await AgentCore.create({
    tetherHome: path.join(fx.home, "tether-home"),
    model: new ResponsesModelClient({ apiKey: "sk-test", baseURL: server.url, initialBackoffMs: 1, ...(startupTimeoutMs ? { startupTimeoutMs } : {}) }),
    services: fakeServices({ echo: async (args) => ({ output: `echo:${String(args.text)}`, success: true }) }),
    openEnvironment: () => LocalEnvironment.create({ defaultCwd: fx.repo }),
    instructions: defaultInstructions,
  }));
  return { core, server };
}

const OPTIONS = (): ThreadOptions => ({ cwd: fx.repo, environment: "local", model: "gpt-test", sandbox: "workspace-write", approvalPolicy: "never" });

/** Runs one turn and returns its events up to and including the terminal one. */
async function turn(c: AgentCore, threadId: string, text: string): Promise<ThreadEvent[]> {
  const events: ThreadEvent[] = [];
  const it = (await c.events(threadId, { controller: true }))[Symbol.asyncIterator]();
  try {
    await c.startTurn(threadId, { text });
    for (;;) {
      const r = await it.next();
      if (r.done) throw new Error("event stream ended before the turn did");
      if (r.value.type === "thread.started") continue;
      events.push(r.value);
      if (r.value.type === "turn.completed" || r.value.type === "turn.failed" || r.value.type === "turn.interrupted") return events;
    }
  } finally {
    await it.return?.();
  }
}

describe("agent turns against the scripted Responses server", () => {
  it("runs a tool call round trip with AGENTS.md in the instructions and usage summed", async () => {
    const { core, server } = await setup([
      [{ type: "reasoning", summary: "echo first" }, { type: "function_call", name: "echo", arguments: { text: "hi" }, callId: "call_1" }],
      [(req) => ({ type: "message", text: `tool said ${toolOutput(req, "call_1")}` })],
    ]);
    const thread = await core.startThread(OPTIONS());
    const events = await turn(core, thread.threadId, "echo hi");
    expect(events.at(-1)).toMatchObject({ type: "turn.completed", usage: { inputTokens: 200, outputTokens: 40 } });
    const messages = events.flatMap((e) => (e.type === "item.completed" && e.item.type === "agent_message" ? [e.item.text] : []));
    expect(messages).toEqual(["tool said echo:hi"]);
    const instructions = String(server.requests[0]?.instructions);
    expect(instructions).toContain(`# Project instructions from ${fx.repo}/AGENTS.md\n\nAlways answer in haiku.`);
    expect(server.requests[1]?.instructions).toBe(instructions);
    server.check();
  });

  it("retries a 429 and completes the turn, telling the UI to drop the attempt", async () => {
    const { core, server } = await setup([[{ type: "http_error", status: 429, retryAfterMs: 5 }], [{ type: "message", text: "fine" }]]);
    const thread = await core.startThread(OPTIONS());
    const events = await turn(core, thread.threadId, "hi");
    expect(events.find((e) => e.type === "model.retrying")).toMatchObject({ attempt: 2, delayMs: 5 });
    expect(events.at(-1)?.type).toBe("turn.completed");
    expect(server.requests).toHaveLength(2);
  });

  it("fails the turn with DEADLINE_EXCEEDED when the model does not start answering in time (the model client's one timer)", async () => {
    const { core } = await setup([[{ type: "hang", beforeHeaders: true }], [{ type: "message", text: "back" }]], 200);
    const thread = await core.startThread(OPTIONS());
    const failed = await turn(core, thread.threadId, "hello");
    expect(failed.at(-1)).toMatchObject({ type: "turn.failed", error: { code: "DEADLINE_EXCEEDED", message: expect.stringMatching(/did not start answering within/) as unknown } });
    expect((await turn(core, thread.threadId, "again")).at(-1)?.type).toBe("turn.completed");
  });

  it("fails the turn on malformed SSE with DATA_LOSS and keeps the thread usable", async () => {
    const { core } = await setup([[{ type: "malformed" }], [{ type: "message", text: "recovered" }]]);
    const thread = await core.startThread(OPTIONS());
    const failed = await turn(core, thread.threadId, "first");
    expect(failed.at(-1)).toMatchObject({ type: "turn.failed", error: { code: "DATA_LOSS", message: expect.stringMatching(/malformed event stream/) as unknown } });
    const next = await turn(core, thread.threadId, "second");
    expect(next.at(-1)?.type).toBe("turn.completed");
  });
});

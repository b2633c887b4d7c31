import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GrpcAgentClient } from "../../../clients/agent/grpc-agent-client.js";
import { LocalEnvironment } from "../../../clients/environment/local-environment.js";
import { FakeModel, call, fakeServices, say } from "../../../test/support/agent-fakes.js";
import { watchThread } from "../../../test/support/agent-harness.js";
import { AgentCore } from "../agent-core.js";
import { readRollout } from "../thread/rollout-reader.js";
import type { ThreadEvent } from "../thread/thread-event.js";
import { type AgentServer, startAgentServer } from "./agent-server.js";

describe("AgentService over gRPC", () => {
  let home: string;
  let core: AgentCore;
  let server: AgentServer;
  let client: GrpcAgentClient;
  const model = new FakeModel([call("risky", {}, "c1"), say("all done")]);

  beforeAll(async () => {
    home = await mkdtemp(path.join(tmpdir(), "tether-agent-rpc-"));
    core = await AgentCore.create({
      tetherHome: home,
      model,
      services: fakeServices({
        risky: async (_a, ctx) => {
          const auth = await ctx.authorize({ kind: "command", commandLine: "rm x", argv: ["rm", "x"], cwd: ctx.cwd, escalated: true });
          return { output: auth.allowed ? "ran" : "no", success: auth.allowed };
        },
      }),
      openEnvironment: () => LocalEnvironment.create({ defaultCwd: home }),
    });
    server = await startAgentServer(core, { listen: `unix://${path.join(home, "agent.sock")}` });
    client = await GrpcAgentClient.connect(server.url);
  });
  afterAll(async () => {
    await client?.close();
    await server?.close();
    await core?.close();
    await rm(home, { recursive: true, force: true });
  });

  it("runs a turn with an approval through Events and Respond, then reads the thread", async () => {
    const thread = await client.startThread({ cwd: home, environment: "local", model: "m", sandbox: "workspace-write", approvalPolicy: { mode: "on-request", reject: ["mcp_elicitations"] } });
    expect(thread.approvalPolicy).toEqual({ mode: "on-request", reject: ["mcp_elicitations"] });
    const events: ThreadEvent[] = [];
    const it = client.events(thread.threadId, { controller: true })[Symbol.asyncIterator]();
    expect((await it.next()).value).toMatchObject({ type: "thread.started", thread: { threadId: thread.threadId } });
    await client.startTurn(thread.threadId, { text: "go" });
    for (;;) {
      const r = await it.next();
      if (r.done) throw new Error("the stream ended early");
      events.push(r.value);
      if (r.value.type === "item.started" && r.value.item.type === "approval") {
        const pending = await client.listPendingApprovals(thread.threadId);
        expect(pending[0]!.action).toEqual({ kind: "command", commandLine: "rm x", argv: ["rm", "x"], cwd: home, escalated: true });
        await client.respond(thread.threadId, r.value.item.id, { type: "accept_with_rule", rule: { pattern: ["rm"], decision: "allow" } });
      }
      if (r.value.type === "turn.completed") break;
    }
    await it.return?.();
    const approval = events.find((e) => e.type === "item.completed" && e.item.type === "approval");
    expect(approval).toMatchObject({ item: { decision: { type: "accept_with_rule", rule: { pattern: ["rm"], decision: "allow" } }, decidedBy: "user" } });
    expect(model.requests[1]!.input.at(-1)).toEqual({ type: "function_call_output", callId: "c1", output: "ran" });
    const snap = await client.readThread(thread.threadId);
    expect(snap.turns[0]!.items.map((i) => i.type)).toEqual(["user_message", "approval", "agent_message"]);
    expect((await client.listThreads()).map((t) => t.threadId)).toContain(thread.threadId);
    await expect(client.respond(thread.threadId, "nope", { type: "accept" })).rejects.toMatchObject({ code: 5 });
  });

  it("serves with the exec server's stack: a token-protected agent server refuses calls without the token", async () => {
    const guarded = await startAgentServer(core, { listen: `unix://${path.join(home, "guarded.sock")}`, token: "s3cret" });
    const anonymous = await GrpcAgentClient.connect(guarded.url);
    const holder = await GrpcAgentClient.connect(guarded.url, { token: "s3cret" });
    try {
      await expect(anonymous.listThreads()).rejects.toMatchObject({ code: 16 });
      expect(Array.isArray(await holder.listThreads())).toBe(true);
    } finally {
      await anonymous.close();
      await holder.close();
      await guarded.close();
    }
  });

  it("a warning published while a thread opens (a torn rollout line) reaches every subscriber that comes later", async () => {
    const info = { threadId: "thread_torn", createdAt: "2026-01-01T00:00:00.000Z", updatedAt: "2026-01-01T00:00:00.000Z", cwd: home, environment: "local", model: "m", sandbox: "workspace-write", approvalPolicy: "on-request", preview: "p" };
    await writeFile(path.join(home, "sessions", "thread_torn.jsonl"), [
      JSON.stringify({ t: "meta", format: 1, thread: info }),
      JSON.stringify({ t: "turn", turnId: "t1", at: info.createdAt }),
      JSON.stringify({ t: "input", turnId: "t1", item: { type: "message", role: "user", text: "hi" } }),
      '{"t":"item","turnId":"t1","item":{"ty',
    ].join("\n"));
    await client.resumeThread("thread_torn");
    const opening = async (controller: boolean): Promise<ThreadEvent[]> => {
      const stream = client.events("thread_torn", { controller })[Symbol.asyncIterator]();
      const got = [(await stream.next()).value as ThreadEvent, (await stream.next()).value as ThreadEvent];
      await stream.return?.();
      return got;
    };
    const ids: (string | undefined)[] = [];
    for (const controller of [true, false]) {
      const [started, warning] = await opening(controller);
      expect(started).toMatchObject({ type: "thread.started", thread: { threadId: "thread_torn" } });
      expect(warning).toMatchObject({ type: "warning", message: expect.stringMatching(/thread_torn\.jsonl: ignored a torn last line/) as unknown });
      ids.push(warning?.type === "warning" ? warning.id : undefined);
    }
    // Its id crosses the wire, the same for both: a client subscribing again shows it once.
    expect(ids[0]).toMatch(/^w\w+-\d+$/);
    expect(ids[1]).toBe(ids[0]);
  });

  it("UpdateThreadSettings changes a thread's settings over the wire: set fields change, unset ones stay, an empty roots list clears", async () => {
    const thread = await client.startThread({ cwd: home, environment: "local", model: "m", sandbox: "workspace-write", approvalPolicy: "on-request", writableRoots: ["/tmp/a"] });
    const changed = await client.updateThreadSettings(thread.threadId, { model: "m2", approvalPolicy: { mode: "never", reject: ["rules"] }, sandbox: "read-only" });
    expect(changed).toMatchObject({ threadId: thread.threadId, model: "m2", approvalPolicy: { mode: "never", reject: ["rules"] }, sandbox: "read-only" });
    expect((await readRollout(core.store.pathFor(thread.threadId))).writableRoots).toEqual(["/tmp/a"]);
    expect(await client.updateThreadSettings(thread.threadId, { writableRoots: [] })).toMatchObject({ model: "m2", sandbox: "read-only" });
    const state = await readRollout(core.store.pathFor(thread.threadId));
    expect(state.writableRoots).toEqual([]);
    expect(state.thread).toMatchObject({ model: "m2", approvalPolicy: { mode: "never", reject: ["rules"] }, sandbox: "read-only" });
    await expect(client.updateThreadSettings("thread_nope", { model: "x" })).rejects.toMatchObject({ code: 5 });
  });

  it("UpdateThreadSettings reaches every subscriber of the thread's Events stream as thread_settings_updated", async () => {
    const thread = await client.startThread({ cwd: home, environment: "local", model: "m", sandbox: "workspace-write", approvalPolicy: "on-request" });
    // A second connection: the change comes from one client, both streams (one per connection) hear of it.
    const other = await GrpcAgentClient.connect(server.url);
    const watches = [await watchThread(client, thread.threadId), await watchThread(other, thread.threadId, { controller: false })];
    try {
      const info = await other.updateThreadSettings(thread.threadId, { model: "m3", approvalPolicy: { mode: "on-failure", reject: ["rules"] }, writableRoots: ["/tmp/b"] });
      for (const w of watches) {
        expect(await w.until((e) => e.type === "thread.settings_updated")).toEqual({ type: "thread.settings_updated", thread: info, writableRoots: ["/tmp/b"] });
      }
    } finally {
      for (const w of watches) w.stop();
      await other.close();
    }
  });
});

// Full agent turns on every backend the conformance suite runs: the real core, the real
// Responses client against the scripted Responses server (real HTTP + SSE), the real tools
// and execpolicy, through InProcessAgentClient. Approvals are answered by a controller that
// reads the thread's event stream, as a UI would.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { InProcessAgentClient } from "../../clients/agent/in-process-agent-client.js";
import { ProcessState } from "../../gen/tether/exec/v1/process_pb.js";
import type { ApprovalDecision } from "../../services/agent-server/policy/approval-types.js";
import type { ThreadEvent } from "../../services/agent-server/thread/thread-event.js";
import { LABEL_THREAD } from "../../services/agent-server/tools/unified-exec/unified-exec-sessions.js";
import { forEachBackend, newId } from "../conformance/conformance-kit.js";
import { acceptAll, agentCoreFor, groupAlive, groupGone, rulesFile, watchThread } from "../support/agent-harness.js";
import { type Script, type ScriptStep, startResponsesServer, toolOutput } from "../support/responses-server.js";

const exec = (cmd: string, callId: string, extra: Record<string, unknown> = {}): ScriptStep => ({ type: "function_call", name: "exec_command", callId, arguments: { cmd, login: false, yield_time_ms: 10_000, ...extra } });

forEachBackend("agent turns", (ctx) => {
  let home: string;
  let client: InProcessAgentClient | undefined;
  let server: Awaited<ReturnType<typeof startResponsesServer>> | undefined;
  let cwd: string;

  beforeEach(async () => {
    home = await mkdtemp(path.join(tmpdir(), "tether-agent-e2e-"));
    cwd = `${ctx.dir}/${newId("w")}`;
    await ctx.env.files.makeDir(cwd, { parents: true });
  });
  afterEach(async () => {
    await client?.close();
    client = undefined;
    await server?.close();
    server = undefined;
    await rm(home, { recursive: true, force: true });
  });

  async function start(script: Script, policy: "untrusted" | "on-request" = "on-request") {
    server = await startResponsesServer({ script });
    const core = await agentCoreFor({ tetherHome: home, modelUrl: server.url, openEnvironment: () => ctx.openSession({}) });
    client = new InProcessAgentClient(core, { ownsCore: true });
    const thread = await client.startThread({ cwd, environment: ctx.backend.name, model: "gpt-test", sandbox: "full-access", approvalPolicy: policy });
    return { client, thread, server };
  }

  const fileText = async (p: string) => {
    const chunks: Buffer[] = [];
    for await (const c of ctx.env.files.readFile(p).chunks) chunks.push(Buffer.from(c));
    return Buffer.concat(chunks).toString("utf8");
  };

  it("runs a multi-step task (commands and a patch); approvals accepted, declined, for the session and with a rule", async () => {
    const patch = `*** Begin Patch\n*** Update File: ${cwd}/a.txt\n@@\n-one\n+two\n*** End Patch`;
    const { client, thread, server } = await start(
      [
        [exec(`echo one > ${cwd}/a.txt && cat ${cwd}/a.txt`, "c1")],
        [exec(`touch ${cwd}/declined.txt`, "c2")],
        [exec(`touch ${cwd}/session.txt`, "c3")],
        [exec(`touch ${cwd}/session.txt`, "c4")],
        [exec(`mkdir -p ${cwd}/ruled`, "c5")],
        [{ type: "function_call", name: "apply_patch", callId: "c6", arguments: { input: patch } }],
        [{ type: "message", text: "all done" }],
      ],
      "untrusted",
    );
    const answers: ApprovalDecision[] = [
      { type: "accept" },
      { type: "decline", reason: "not that file" },
      { type: "accept_for_session" },
      { type: "accept_with_rule", rule: { pattern: ["mkdir"], decision: "allow" } },
    ];
    const asked: string[] = [];
    const onEvent = (e: ThreadEvent) => {
      if (e.type !== "item.started" || e.item.type !== "approval") return;
      asked.push(e.item.request.callId);
      const answer = answers.shift() ?? { type: "accept" };
      void client.respond(thread.threadId, e.item.id, answer).catch((err: unknown) => console.error(err));
    };
    const watch = await watchThread(client, thread.threadId, { onEvent });
    await client.startTurn(thread.threadId, { text: "make the files" });
    const end = await watch.turnEnd();
    expect(end.type, JSON.stringify(end)).toBe("turn.completed");
    // c4 repeats a command accepted for the session: not asked again.
    expect(asked.slice(0, 4)).toEqual(["c1", "c2", "c3", "c5"]);
    expect(toolOutput(server.received[1]!, "c1")).toContain("one");
    expect(toolOutput(server.received[2]!, "c2")).toMatch(/not that file|declined/);
    expect(await fileText(`${cwd}/a.txt`)).toBe("two\n");
    await expect(ctx.env.files.stat(`${cwd}/declined.txt`)).rejects.toThrow();
    expect(await readFile(rulesFile(home), "utf8")).toMatch(/prefix_rule\(.*"mkdir"/s);
    const commands = watch.completedItems("command_execution");
    expect(commands.length).toBeGreaterThanOrEqual(4);
    expect(watch.completedItems("file_change")).toHaveLength(1);
    expect(watch.completedItems("agent_message").map((i) => (i as { text: string }).text)).toEqual(["all done"]);
    server.check();
    watch.stop();
  });

  it("a settings change between turns: the next turn asks per the new approval policy and uses the new model", async () => {
    const { client, thread, server } = await start([
      [exec(`touch ${cwd}/first.txt`, "c1")],
      [{ type: "message", text: "made it" }],
      [exec(`touch ${cwd}/second.txt`, "c2")],
      [{ type: "message", text: "was refused" }],
    ]);
    const asked: string[] = [];
    const onEvent = (e: ThreadEvent) => {
      if (e.type !== "item.started" || e.item.type !== "approval") return;
      asked.push(e.item.request.callId);
      void client.respond(thread.threadId, e.item.id, { type: "decline", reason: "not now" }).catch((err: unknown) => console.error(err));
    };
    const watch = await watchThread(client, thread.threadId, { onEvent });
    await client.startTurn(thread.threadId, { text: "make the first file" });
    expect((await watch.turnEnd()).type).toBe("turn.completed");
    // on-request in a full-access sandbox: the command ran without asking.
    expect(asked).toEqual([]);
    await expect(ctx.env.files.stat(`${cwd}/first.txt`)).resolves.toBeDefined();
    expect(await client.updateThreadSettings(thread.threadId, { approvalPolicy: "untrusted", model: "gpt-next" })).toMatchObject({ approvalPolicy: "untrusted", model: "gpt-next" });
    await client.startTurn(thread.threadId, { text: "make the second file" });
    expect((await watch.turnEnd()).type).toBe("turn.completed");
    // untrusted asks for every command: asked, declined, not run.
    expect(asked).toEqual(["c2"]);
    await expect(ctx.env.files.stat(`${cwd}/second.txt`)).rejects.toThrow();
    expect(toolOutput(server.received[3]!, "c2")).toMatch(/not now|declined/);
    expect(server.requests.map((r) => r.model)).toEqual(["gpt-test", "gpt-test", "gpt-next", "gpt-next"]);
    // The thread's exec session follows its sandbox (SetSandbox): its file calls are refused once read-only.
    const files = client.core.thread(thread.threadId)!.env.files;
    await files.writeFile({ path: `${cwd}/by-session.txt` }, Buffer.from("full access"));
    await client.updateThreadSettings(thread.threadId, { sandbox: "read-only" });
    await expect(files.writeFile({ path: `${cwd}/by-session.txt` }, Buffer.from("read-only"))).rejects.toThrow();
    await client.updateThreadSettings(thread.threadId, { sandbox: "full-access" });
    await files.writeFile({ path: `${cwd}/by-session.txt` }, Buffer.from("full again"));
    expect(await fileText(`${cwd}/by-session.txt`)).toBe("full again");
    server.check();
    watch.stop();
  });

  it("refuses an execpolicy-forbidden command without asking and tells the model why", async () => {
    await mkdir(path.dirname(rulesFile(home)), { recursive: true });
    await writeFile(rulesFile(home), 'prefix_rule(pattern=["rm"], decision="forbidden", justification="deleting is not allowed here")\n');
    const { client, thread, server } = await start([[exec(`rm -rf ${cwd}/x`, "c1")], [{ type: "message", text: "ok" }]]);
    const watch = await watchThread(client, thread.threadId);
    await client.startTurn(thread.threadId, { text: "delete x" });
    expect((await watch.turnEnd()).type).toBe("turn.completed");
    expect(toolOutput(server.received[1]!, "c1")).toMatch(/deleting is not allowed here/);
    expect(watch.completedItems("approval")).toEqual([]);
    watch.stop();
  });

  it("an interrupt during a long command ends the turn and its process group", async () => {
    const { client, thread } = await start([[exec("echo up; sleep 300 & sleep 301; wait", "c1", { yield_time_ms: 30_000 })]]);
    const watch = await watchThread(client, thread.threadId, { onEvent: acceptAll(client, thread.threadId) });
    await client.startTurn(thread.threadId, { text: "wait a long time" });
    // Its first output: the command (and its background child) is running.
    await watch.until((e) => e.type === "item.delta" && e.delta.includes("up"));
    const running = await ctx.env.processes.list({ labels: { [LABEL_THREAD]: thread.threadId }, allSessions: true });
    const live = running.filter((p) => p.state === ProcessState.RUNNING);
    expect(live).toHaveLength(1);
    // The child's pid is its process group's id; docker's pids are in another namespace.
    const pgid = ctx.backend.name === "docker" ? undefined : live[0]!.pid;
    if (pgid !== undefined) expect(groupAlive(pgid)).toBe(true);
    await client.interrupt(thread.threadId);
    expect((await watch.turnEnd()).type).toBe("turn.interrupted");
    const after = await ctx.env.processes.list({ labels: { [LABEL_THREAD]: thread.threadId }, allSessions: true });
    expect(after.filter((p) => p.state === ProcessState.RUNNING)).toEqual([]);
    // The whole group is gone, the background child too (docker's processes are in another pid namespace).
    if (pgid !== undefined) expect(await groupGone(pgid)).toBe(true);
    watch.stop();
  });

  it("steer mid-turn: the next model request carries the added input", async () => {
    let release!: () => void;
    const steered = new Promise<void>((r) => (release = r));
    const { client, thread, server } = await start([[{ type: "wait", until: steered }, exec("true", "c1")], [{ type: "message", text: "noted" }]]);
    const watch = await watchThread(client, thread.threadId);
    await client.startTurn(thread.threadId, { text: "start" });
    await server.waitForRequests(1);
    await client.steer(thread.threadId, "also mention the weather");
    release();
    expect((await watch.turnEnd()).type).toBe("turn.completed");
    expect(JSON.stringify(server.requests[1]!.input)).toContain("also mention the weather");
    watch.stop();
  });

  it("a 429 is retried and then succeeds; a malformed stream fails the turn clearly and the thread goes on", async () => {
    const { client, thread, server } = await start([
      [{ type: "http_error", status: 429, retryAfterMs: 20 }],
      [{ type: "message", text: "after retry" }],
      [{ type: "malformed", data: "{not json" }],
      [{ type: "message", text: "still here" }],
    ]);
    const watch = await watchThread(client, thread.threadId);
    await client.startTurn(thread.threadId, { text: "first" });
    expect((await watch.turnEnd()).type).toBe("turn.completed");
    expect(watch.events.some((e) => e.type === "model.retrying")).toBe(true);
    await client.startTurn(thread.threadId, { text: "second" });
    const failed = await watch.turnEnd();
    expect(failed).toMatchObject({ type: "turn.failed", error: { code: "DATA_LOSS" } });
    await client.startTurn(thread.threadId, { text: "third" });
    expect((await watch.turnEnd()).type).toBe("turn.completed");
    const input = JSON.stringify(server.requests[3]!.input);
    expect(input).toContain("after retry");
    expect(input).toContain("second");
    watch.stop();
  });
});

// The agent as a separate `tether agent-server` process driven by GrpcAgentClient: turns with
// real commands against the scripted Responses server; the server is SIGKILLed in the middle
// of a command and restarted, and the thread resumes from its rollout (the unanswered call
// recorded as aborted); then fork and rollback rebuild the model input they should.
import { tmpdir } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { acceptAll, groupAlive, groupGone, watchThread } from "../support/agent-harness.js";
import { AgentServerFixture } from "../support/agent-server-fixture.js";
import { type ScriptStep, inputItems, toolOutput } from "../support/responses-server.js";

const exec = (cmd: string, callId: string, extra: Record<string, unknown> = {}): ScriptStep => ({ type: "function_call", name: "exec_command", callId, arguments: { cmd, login: false, yield_time_ms: 10_000, ...extra } });

const texts = (body: Record<string, unknown>) =>
  inputItems(body).flatMap((i) => (i.type === "message" ? [JSON.stringify(i.content)] : i.type === "function_call_output" ? [`output:${String(i.call_id)}:${String(i.output).slice(0, 40)}`] : []));

describe("tether agent-server (gRPC)", () => {
  let fx: AgentServerFixture;

  beforeAll(async () => {
    fx = await AgentServerFixture.create({
      parent: tmpdir(),
      prefix: "tether-agent-server-",
      script: [
        [exec("echo hello-from-turn-one", "c1")],
        [{ type: "message", text: "first done" }],
        [exec("echo started pid=$$; sleep 600", "c2", { yield_time_ms: 30_000 })],
        // After the restart: the resumed thread's next turn.
        [{ type: "message", text: "resumed fine" }],
        // The fork's turn, then the rolled-back thread's turn.
        [{ type: "message", text: "fork answer" }],
        [{ type: "message", text: "after rollback" }],
      ],
    });
  });
  afterAll(() => fx?.close());

  it("resumes a thread after the agent server is killed mid-command and restarted; fork and rollback", async () => {
    let client = await fx.start();
    const thread = await client.startThread({ cwd: fx.dir, environment: "local", model: "gpt-test", sandbox: "full-access", approvalPolicy: "on-request" });
    let watch = await watchThread(client, thread.threadId, { onEvent: acceptAll(client, thread.threadId) });
    await client.startTurn(thread.threadId, { text: "turn one" });
    expect((await watch.turnEnd()).type).toBe("turn.completed");
    expect(toolOutput(fx.model.received[1]!, "c1")).toContain("hello-from-turn-one");

    await client.startTurn(thread.threadId, { text: "turn two" });
    const started = await watch.until((e) => e.type === "item.delta" && /pid=\d+/.test(e.delta));
    // The shell's pid is its process group's id (each command leads its own group).
    const pgid = Number(/pid=(\d+)/.exec((started as { delta: string }).delta)![1]);
    expect(groupAlive(pgid)).toBe(true);
    fx.agent!.kill("SIGKILL");
    expect((await fx.agent!.exited).signal).toBe("SIGKILL");
    watch.stop();

    // Its command died with it (tether-launch's parent-death signal): no orphan.
    expect(await groupGone(pgid)).toBe(true);

    client = await fx.start();
    expect((await client.listThreads()).map((t) => t.threadId)).toContain(thread.threadId);
    await client.resumeThread(thread.threadId);
    const before = await client.readThread(thread.threadId);
    expect(before.turns.map((t) => t.status)).toEqual(["completed", "interrupted"]);
    watch = await watchThread(client, thread.threadId, { onEvent: acceptAll(client, thread.threadId) });
    await client.startTurn(thread.threadId, { text: "turn three" });
    expect((await watch.turnEnd()).type).toBe("turn.completed");
    const resumedInput = texts(fx.model.requests[3]!);
    expect(resumedInput.join("\n")).toContain("turn one");
    expect(resumedInput.join("\n")).toContain("first done");
    // The call that was running when the server died is answered, as aborted.
    expect(toolOutput(fx.model.received[3]!, "c2")).toMatch(/^aborted/);
    fx.model.check();

    const fork = await client.forkThread(thread.threadId, { turns: 1 });
    expect(fork.forkedFrom).toEqual({ threadId: thread.threadId, turnCount: 1 });
    const fwatch = await watchThread(client, fork.threadId);
    await client.startTurn(fork.threadId, { text: "fork turn" });
    expect((await fwatch.turnEnd()).type).toBe("turn.completed");
    const forkInput = texts(fx.model.requests[4]!).join("\n");
    expect(forkInput).toContain("first done");
    expect(forkInput).not.toContain("turn two");

    await client.rollback(thread.threadId, 2);
    expect((await client.readThread(thread.threadId)).turns).toHaveLength(1);
    await client.startTurn(thread.threadId, { text: "after rollback turn" });
    const ends = watch.events.filter((e) => e.type === "turn.completed").length;
    await watch.until((e) => e.type === "turn.completed" && watch.events.filter((x) => x.type === "turn.completed").length > ends);
    const rolledInput = texts(fx.model.requests[5]!).join("\n");
    expect(rolledInput).toContain("first done");
    expect(rolledInput).not.toContain("turn three");
    fwatch.stop();
    watch.stop();
  });
});

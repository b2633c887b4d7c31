// A restarted agent finds the model's long-lived processes again: a real `tether exec-server`
// on a Unix socket and a real `tether agent-server`; the model starts `cat` on a PTY with
// exec_command, the agent server is SIGKILLed and restarted, the thread is resumed, and the
// model's write_stdin to the same session id gets its echo; so after a graceful stop (SIGTERM)
// and restart. A fork has its own exec session
// (the parent's id is unknown there, and the parent keeps its process). When the exec server
// itself restarted, resume still works and the old id gets a clear tool error.
import { rm } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { acceptAll, watchThread } from "../support/agent-harness.js";
import { AgentServerFixture } from "../support/agent-server-fixture.js";
import { type ExecServerProcess, VISIBLE_RUN_DIR, startExecServerProcess } from "../support/exec-server-process.js";
import { type ScriptStep, toolOutput } from "../support/responses-server.js";

const write = (sessionId: number, chars: string, callId: string): ScriptStep => ({ type: "function_call", name: "write_stdin", callId, arguments: { session_id: sessionId, chars, yield_time_ms: 1500 } });

describe("agent restart resumes exec sessions (real exec-server and agent-server processes)", () => {
  let fx: AgentServerFixture;
  let exec: ExecServerProcess | undefined;

  beforeAll(async () => {
    // Under the visible run dir: the exec server's sandbox hides /tmp.
    fx = await AgentServerFixture.create({
      parent: VISIBLE_RUN_DIR,
      prefix: "agent-exec-resume-",
      script: [
        // Turn one: a long-lived cat on a PTY.
        [{ type: "function_call", name: "exec_command", callId: "c1", arguments: { cmd: "cat", tty: true, login: false, yield_time_ms: 500 } }],
        [{ type: "message", text: "cat is running" }],
        // After the agent restart: the same session id.
        [write(1000, "ping-after-restart\n", "c2")],
        [{ type: "message", text: "echoed" }],
        // The fork's turn: the parent's session is not the fork's.
        [write(1000, "from-the-fork\n", "c3")],
        [{ type: "message", text: "fork done" }],
        // The parent again: its process is still its own.
        [write(1000, "still-mine\n", "c4")],
        [{ type: "message", text: "parent done" }],
        // After a graceful stop (SIGTERM) and restart: the session was detached, not closed.
        [write(1000, "after-sigterm\n", "c6")],
        [{ type: "message", text: "still there" }],
        // After the exec server restarted too: the session is gone.
        [write(1000, "anyone\n", "c5")],
        [{ type: "message", text: "gone noted" }],
      ],
    });
    // After the agent server: a closing one detaches its exec sessions from a live exec server.
    fx.closeAfterAgent(async () => exec?.close());
  });
  afterAll(() => fx?.close());

  it("reattaches after SIGKILL, keeps the fork out of the parent's session, and reports a lost session clearly", async () => {
    const execSock = `unix://${fx.dir}/exec.sock`;
    exec = await startExecServerProcess({ listen: execSock });
    let client = await fx.start();
    const thread = await client.startThread({ cwd: fx.dir, environment: execSock, model: "gpt-test", sandbox: "full-access", approvalPolicy: "on-request" });
    const id = thread.threadId;
    let watch = await watchThread(client, id, { onEvent: acceptAll(client, id) });
    await client.startTurn(id, { text: "start cat" });
    expect((await watch.turnEnd()).type).toBe("turn.completed");
    expect(toolOutput(fx.model.received[0 + 1]!, "c1")).toContain("Process running with session ID 1000");
    watch.stop();

    client = await fx.restart();
    await client.resumeThread(id);
    watch = await watchThread(client, id, { onEvent: acceptAll(client, id) });
    await client.startTurn(id, { text: "write to cat" });
    expect((await watch.turnEnd()).type).toBe("turn.completed");
    const echoed = toolOutput(fx.model.received[3]!, "c2");
    expect(echoed).toContain("ping-after-restart");
    expect(echoed).toContain("Process running with session ID 1000");

    const fork = await client.forkThread(id);
    const fwatch = await watchThread(client, fork.threadId, { onEvent: acceptAll(client, fork.threadId) });
    await client.startTurn(fork.threadId, { text: "fork writes" });
    expect((await fwatch.turnEnd()).type).toBe("turn.completed");
    expect(toolOutput(fx.model.received[5]!, "c3")).toMatch(/Unknown session ID 1000/);
    fwatch.stop();

    await client.startTurn(id, { text: "parent writes again" });
    expect((await watch.turnEnd()).type).toBe("turn.completed");
    const mine = toolOutput(fx.model.received[7]!, "c4");
    expect(mine).toContain("still-mine");
    expect(mine).not.toContain("from-the-fork");
    watch.stop();

    // A graceful stop is a restart too: the server detaches its exec sessions instead of closing them.
    await fx.agent!.close();
    expect((await fx.agent!.exited).code).toBe(0);
    client = await fx.start();
    await client.resumeThread(id);
    watch = await watchThread(client, id, { onEvent: acceptAll(client, id) });
    await client.startTurn(id, { text: "write after a graceful restart" });
    expect((await watch.turnEnd()).type).toBe("turn.completed");
    expect(toolOutput(fx.model.received[9]!, "c6")).toContain("after-sigterm");
    watch.stop();

    // The exec server dies too (its processes with it) and comes back empty on the same socket.
    fx.agent!.kill("SIGKILL");
    await fx.agent!.exited;
    exec.kill("SIGKILL");
    await exec.exited;
    await rm(path.join(fx.dir, "exec.sock"), { force: true });
    exec = await startExecServerProcess({ listen: execSock });
    client = await fx.restart();
    await client.resumeThread(id);
    watch = await watchThread(client, id, { onEvent: acceptAll(client, id) });
    await client.startTurn(id, { text: "write after the exec server restarted" });
    expect((await watch.turnEnd()).type).toBe("turn.completed");
    expect(toolOutput(fx.model.received[11]!, "c5")).toMatch(/Session ID 1000 is gone: the agent restarted/);
    watch.stop();
    fx.model.check();
  });
});

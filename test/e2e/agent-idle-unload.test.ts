// Idle threads are unloaded and come back transparently: a thread on a real `tether
// exec-server` (Unix socket) starts `cat` on a PTY, then sits idle (no turn, no subscriber)
// past the idle TTL on the core's clock; it is unloaded with its exec session detached, not
// closed, and the next turn (which reloads it from its rollout) writes to the same cat.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InProcessAgentClient } from "../../clients/agent/in-process-agent-client.js";
import { AgentCore } from "../../services/agent-server/agent-core.js";
import { defaultThreadServices } from "../../services/agent-server/default-agent-parts.js";
import { ResponsesModelClient } from "../../services/agent-server/model/responses-model-client.js";
import { watchThread } from "../support/agent-harness.js";
import { type ExecServerProcess, VISIBLE_RUN_DIR, startExecServerProcess } from "../support/exec-server-process.js";
import { startResponsesServer, toolOutput } from "../support/responses-server.js";

const TTL = 60_000;

describe("idle thread unloading", () => {
  let dir: string;
  let server: Awaited<ReturnType<typeof startResponsesServer>>;
  let exec: ExecServerProcess;

  beforeAll(async () => {
    await mkdir(VISIBLE_RUN_DIR, { recursive: true });
    dir = await mkdtemp(path.join(VISIBLE_RUN_DIR, "agent-idle-"));
    exec = await startExecServerProcess({ listen: `unix://${dir}/exec.sock` });
    server = await startResponsesServer({
      script: [
        [{ type: "function_call", name: "exec_command", callId: "c1", arguments: { cmd: "cat", tty: true, login: false, yield_time_ms: 500 } }],
        [{ type: "message", text: "cat is running" }],
        [{ type: "function_call", name: "write_stdin", callId: "c2", arguments: { session_id: 1000, chars: "after-unload\n", yield_time_ms: 1500 } }],
        [{ type: "message", text: "echoed" }],
      ],
    });
  });
  afterAll(async () => {
    await server?.close();
    await exec?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("unloads an idle thread with its exec session detached and reloads it on the next call", async () => {
    let clock = Date.parse("2026-12-07T08:00:00Z");
    const core = await AgentCore.create({
      tetherHome: path.join(dir, "home"),
      model: new ResponsesModelClient({ baseURL: server.url, apiKey: "test-key", initialBackoffMs: 10, maxBackoffMs: 50 }),
      services: defaultThreadServices({ tetherHome: path.join(dir, "home") }),
      instructions: async () => "test",
      now: () => new Date(clock),
      idleThreadTtlMs: TTL,
    });
    const client = new InProcessAgentClient(core, { ownsCore: true });
    try {
      const thread = await client.startThread({ cwd: dir, environment: exec.url, model: "gpt-test", sandbox: "full-access", approvalPolicy: "never" });
      const id = thread.threadId;
      let watch = await watchThread(client, id);
      await client.startTurn(id, { text: "start cat" });
      expect((await watch.turnEnd()).type).toBe("turn.completed");
      expect(toolOutput(server.received[1]!, "c1")).toContain("Process running with session ID 1000");

      // A subscriber keeps the thread loaded however long it is quiet.
      clock += 2 * TTL;
      expect(await core.unloadIdleThreads()).toEqual([]);
      watch.stop();
      // An aborted subscription leaves at once.
      expect(core.thread(id)!.fanout.subscriberCount).toBe(0);

      // Idle from this sweep on: not before the TTL, then unloaded.
      expect(await core.unloadIdleThreads()).toEqual([]);
      clock += TTL - 1;
      expect(await core.unloadIdleThreads()).toEqual([]);
      clock += 1;
      expect(await core.unloadIdleThreads()).toEqual([id]);
      expect(core.liveThreadCount).toBe(0);

      // The next call reloads it; its cat outlived the unload.
      watch = await watchThread(client, id);
      await client.startTurn(id, { text: "write to cat" });
      expect((await watch.turnEnd()).type).toBe("turn.completed");
      const echoed = toolOutput(server.received[3]!, "c2");
      expect(echoed).toContain("after-unload");
      expect(echoed).toContain("Process running with session ID 1000");
      watch.stop();
      server.check();
    } finally {
      await client.close();
    }
  });
});

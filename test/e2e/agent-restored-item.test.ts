// A command still running when its thread is unloaded (or the agent restarts) keeps its item:
// a real `tether exec-server` on a Unix socket holds the process while the thread is away; the
// reloaded thread reopens the command's item in the turn that started it, under the same id,
// and completes it there when the process exits, though the model never touches it again.
// (Before, the unload's detach ended the old reader, the item was lost from the rollout, and
// nothing ever completed it.)
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InProcessAgentClient } from "../../clients/agent/in-process-agent-client.js";
import { AgentCore } from "../../services/agent-server/agent-core.js";
import { defaultThreadServices } from "../../services/agent-server/default-agent-parts.js";
import { ResponsesModelClient } from "../../services/agent-server/model/responses-model-client.js";
import { readRollout } from "../../services/agent-server/thread/rollout-reader.js";
import type { ThreadItem } from "../../services/agent-server/thread/thread-event.js";
import { watchThread } from "../support/agent-harness.js";
import { type ExecServerProcess, VISIBLE_RUN_DIR, startExecServerProcess } from "../support/exec-server-process.js";
import { startResponsesServer, toolOutput } from "../support/responses-server.js";

const TTL = 60_000;
// Waits for the test's signal file (a bounded wait: the yield, then the test, decide when).
const COMMAND = "for i in $(seq 600); do [ -e release ] && break; sleep 0.1; done; echo finished";

describe("a running command's item across an unload", () => {
  let dir: string;
  let server: Awaited<ReturnType<typeof startResponsesServer>>;
  let exec: ExecServerProcess;

  beforeAll(async () => {
    await mkdir(VISIBLE_RUN_DIR, { recursive: true });
    dir = await mkdtemp(path.join(VISIBLE_RUN_DIR, "agent-restored-item-"));
    exec = await startExecServerProcess({ listen: `unix://${dir}/exec.sock` });
    server = await startResponsesServer({
      script: [
        [{ type: "function_call", name: "exec_command", callId: "c1", arguments: { cmd: COMMAND, login: false, yield_time_ms: 250 } }],
        [{ type: "message", text: "it runs in the background" }],
      ],
    });
  });
  afterAll(async () => {
    await server?.close();
    await exec?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("completes in the turn that started it, with its exit, after the thread was unloaded and reloaded", async () => {
    let clock = Date.parse("2026-12-07T08:00:00Z");
    const home = path.join(dir, "home");
    const core = await AgentCore.create({
      tetherHome: home,
      model: new ResponsesModelClient({ baseURL: server.url, apiKey: "test-key", initialBackoffMs: 10, maxBackoffMs: 50 }),
      services: defaultThreadServices({ tetherHome: home }),
      instructions: async () => "test",
      now: () => new Date(clock),
      idleThreadTtlMs: TTL,
    });
    const client = new InProcessAgentClient(core, { ownsCore: true });
    try {
      const { threadId } = await client.startThread({ cwd: dir, environment: exec.url, model: "gpt-test", sandbox: "full-access", approvalPolicy: "never" });
      let watch = await watchThread(client, threadId);
      const { turnId } = await client.startTurn(threadId, { text: "start it" });
      expect((await watch.turnEnd()).type).toBe("turn.completed");
      expect(toolOutput(server.received[1]!, "c1")).toContain("Process running with session ID 1000");
      watch.stop();

      clock += TTL;
      expect(await core.unloadIdleThreads()).toEqual([threadId]);

      watch = await watchThread(client, threadId, { controller: false }); // reloads it
      await writeFile(path.join(dir, "release"), "");
      const done = await watch.until((e) => e.type === "item.completed" && e.item.id === "cmd-c1");
      if (done.type !== "item.completed" || done.item.type !== "command_execution") throw new Error("not the command's completion");
      expect(done.turnId).toBe(turnId);
      expect(done.item).toMatchObject({ callId: "c1", command: COMMAND, exitCode: 0, status: "completed", sessionId: "1000" });
      expect(done.item.output).toContain("finished");
      watch.stop();

      // Stored in its turn: a later reader of the thread sees how it ended.
      const stored = (await readRollout(core.store.pathFor(threadId))).turns.find((t) => t.turnId === turnId)!.items;
      expect(stored.filter((i): i is Extract<ThreadItem, { type: "command_execution" }> => i.type === "command_execution")).toMatchObject([{ id: "cmd-c1", exitCode: 0, status: "completed" }]);
      server.check();
    } finally {
      await client.close();
    }
  });
});

// The real core driving the real tools on a real in-process exec server (the model is a
// scripted fake): a turn that runs a command in the workspace-write sandbox, patches a file
// and updates the plan; and an interrupt during a long command, after which List shows none
// of the turn's processes.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ProcessState } from "../../gen/tether/exec/v1/process_pb.js";
import type { Environment } from "../../clients/environment/environment.js";
import { LocalEnvironment } from "../../clients/environment/local-environment.js";
import { AgentCore } from "../../services/agent-server/agent-core.js";
import { basicThreadPolicy } from "../../services/agent-server/thread/basic-thread-policy.js";
import type { ThreadEvent, ThreadItem } from "../../services/agent-server/thread/thread-event.js";
import { defaultThreadTools } from "../../services/agent-server/tools/thread-tools.js";
import { InProcessAgentClient } from "../../clients/agent/in-process-agent-client.js";
import { FakeModel, call, say } from "../support/agent-fakes.js";
import { watchThread } from "../support/agent-harness.js";

let home: string;
let core: AgentCore | undefined;
let envs: Environment[] = [];

beforeEach(async () => {
  home = await mkdtemp(path.join(tmpdir(), "tether-tools-turn-"));
});
afterEach(async () => {
  await core?.close();
  core = undefined;
  envs = [];
  await rm(home, { recursive: true, force: true });
});

async function start(model: FakeModel) {
  core = await AgentCore.create({
    tetherHome: path.join(home, ".tether"),
    model,
    services: { tools: (setup) => defaultThreadTools(setup), policy: () => basicThreadPolicy() },
    openEnvironment: async () => {
      const env = await LocalEnvironment.create({ defaultCwd: home });
      envs.push(env);
      return env;
    },
    instructions: async () => "test",
  });
  const thread = await core.startThread({ cwd: home, environment: "local", model: "m", sandbox: "workspace-write", approvalPolicy: "on-request" });
  // One turn per thread here, so the watch's next turn end is this turn's.
  const { events, until, turnEnd } = await watchThread(new InProcessAgentClient(core), thread.threadId);
  return { core, thread, events, until, turnEnd };
}

const completed = (events: ThreadEvent[], type: ThreadItem["type"]) =>
  events.flatMap((e) => (e.type === "item.completed" && e.item.type === type ? [e.item] : []));

describe("the default tools in a real turn", () => {
  it("runs a command, patches a file and updates the plan; outputs reach the next request", async () => {
    const patch = "*** Begin Patch\n*** Add File: hello.txt\n+hello from the patch\n*** End Patch";
    const model = new FakeModel([
      call("update_plan", { plan: [{ step: "write hello.txt", status: "in_progress" }] }, "plan1"),
      call("apply_patch", { input: patch }, "patch1"),
      call("exec_command", { cmd: "cat hello.txt && echo ran", login: false }, "exec1"),
      say("done"),
    ]);
    const t = await start(model);
    await t.core.startTurn(t.thread.threadId, { text: "go" });
    await t.turnEnd();
    expect(t.events.at(-1)?.type).toBe("turn.completed");
    expect(await readFile(path.join(home, "hello.txt"), "utf8")).toBe("hello from the patch\n");
    expect(completed(t.events, "plan")).toEqual([expect.objectContaining({ steps: [{ step: "write hello.txt", status: "in_progress" }] })]);
    expect(completed(t.events, "file_change")).toEqual([expect.objectContaining({ status: "completed", changes: [expect.objectContaining({ kind: "add", path: "hello.txt" })] })]);
    expect(completed(t.events, "command_execution")).toEqual([expect.objectContaining({ exitCode: 0, status: "completed", command: "cat hello.txt && echo ran" })]);
    const last = model.requests.at(-1)!.input;
    const output = last.find((i) => i.type === "function_call_output" && i.callId === "exec1");
    expect(output).toMatchObject({ output: expect.stringMatching(/Process exited with code 0\nOutput:\nhello from the patch\nran\n$/) });
    expect(model.requests[0]!.tools.map((s) => s.name)).toEqual(["exec_command", "write_stdin", "apply_patch", "update_plan"]);
  });

  it("a command still running when its turn ends keeps streaming to its item, which completes when the process exits", async () => {
    const flag = path.join(home, "go");
    const model = new FakeModel([call("exec_command", { cmd: `echo one; while [ ! -e go ]; do sleep 0.01; done; echo two`, login: false, yield_time_ms: 250 }, "bg1"), say("started it")]);
    const t = await start(model);
    await t.core.startTurn(t.thread.threadId, { text: "go" });
    const end = await t.turnEnd();
    expect(end.type).toBe("turn.completed");
    expect(completed(t.events, "command_execution")).toEqual([]);
    await writeFile(flag, "");
    const done = await t.until((e) => e.type === "item.completed" && e.item.type === "command_execution");
    expect(done).toMatchObject({ turnId: end.turnId, item: { id: "cmd-bg1", exitCode: 0, status: "completed", output: "one\ntwo\n" } });
    // Live output after the turn's end came as deltas of that item; the stored turn has it too.
    const endAt = t.events.indexOf(end);
    expect(t.events.slice(endAt).some((e) => e.type === "item.delta" && e.itemId === "cmd-bg1" && e.delta.includes("two"))).toBe(true);
    const snapshot = await t.core.readThread(t.thread.threadId);
    expect(snapshot.turns.at(-1)?.items).toContainEqual(expect.objectContaining({ id: "cmd-bg1", exitCode: 0 }));
  });

  it("an interrupt during a long command ends its process group: List shows nothing left", async () => {
    const model = new FakeModel([call("exec_command", { cmd: "echo up; sleep 60 & sleep 61; wait", login: false, yield_time_ms: 30_000 }, "long1")]);
    const t = await start(model);
    const { turnId } = await t.core.startTurn(t.thread.threadId, { text: "go" });
    // Its first output: the command is running.
    await t.until((e) => e.type === "item.delta" && e.delta.includes("up"));
    const env = envs[0]!;
    const running = async () => (await env.processes.list({ labels: { "tether.thread": t.thread.threadId, "tether.turn": turnId } })).filter((p) => p.state === ProcessState.RUNNING);
    expect(await running()).toHaveLength(1);
    await t.core.interrupt(t.thread.threadId);
    await t.turnEnd();
    expect(t.events.at(-1)?.type).toBe("turn.interrupted");
    expect(await running()).toEqual([]);
    expect(completed(t.events, "command_execution")).toEqual([expect.objectContaining({ status: "failed" })]);
  });
});

// AgentCore.updateThreadSettings: a live thread's model, approval policy, sandbox and writable
// roots change from its next model request / tool call on, the exec session's default sandbox
// follows, and the rollout's settings record brings it all back on resume.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { InProcessAgentClient } from "../../clients/agent/in-process-agent-client.js";
import { LocalEnvironment } from "../../clients/environment/local-environment.js";
import { FakeModel, type FakeTool, call, fakeServices, say } from "../../test/support/agent-fakes.js";
import { watchThread } from "../../test/support/agent-harness.js";
import { ErrorCode } from "../common/tether-error.js";
import { AgentCore } from "./agent-core.js";
import { readRollout } from "./thread/rollout-reader.js";

let home: string;
const cores: AgentCore[] = [];

beforeEach(async () => {
  home = await mkdtemp(path.join(tmpdir(), "tether-agent-settings-"));
});
afterEach(async () => {
  for (const c of cores.splice(0)) await c.close();
  await rm(home, { recursive: true, force: true });
});

interface Probe {
  sandbox: string;
  roots: string[];
  allowed: boolean;
  wrote: boolean;
}

async function makeCore(model: FakeModel, tools: Record<string, FakeTool>) {
  const core = await AgentCore.create({
    tetherHome: home,
    model,
    services: fakeServices(tools),
    // The session starts with the thread's default sandbox, as a real opener does.
    openEnvironment: (request) => LocalEnvironment.create({ defaultCwd: home, defaultSandbox: request.defaultSandbox }),
    idleThreadTtlMs: 0,
  });
  cores.push(core);
  return core;
}

it("changes model, approval policy, sandbox and roots of a live thread, mid-turn from the next request, and a resume keeps them", async () => {
  const work = path.join(home, "work");
  const extra = path.join(home, "extra");
  await mkdir(work);
  await mkdir(extra);
  const probes: Probe[] = [];
  let core!: AgentCore;
  let threadId = "";
  const tools: Record<string, FakeTool> = {
    probe: async (_a, ctx) => {
      const auth = await ctx.authorize({ kind: "command", commandLine: "ls", argv: ["ls"], cwd: ctx.cwd, escalated: false });
      const wrote = await ctx.env.files.writeFile({ path: path.join(work, "f.txt") }, Buffer.from("x")).then(() => true, () => false);
      probes.push({ sandbox: ctx.sandbox, roots: [...ctx.writableRoots], allowed: auth.allowed, wrote });
      return { output: "probed", success: true };
    },
    // A change made while the turn runs: the turn's next model request already uses it.
    switch_model: async () => {
      await core.updateThreadSettings(threadId, { model: "model-3" });
      return { output: "switched", success: true };
    },
  };
  const model = new FakeModel([call("probe", {}, "c1"), say("one"), call("switch_model", {}, "c2"), call("probe", {}, "c3"), say("two"), say("three")]);
  core = await makeCore(model, tools);
  threadId = (await core.startThread({ cwd: work, environment: "local", model: "model-1", sandbox: "workspace-write", approvalPolicy: "untrusted" })).threadId;

  const turn = async (text: string) => {
    await core.startTurn(threadId, { text });
    await core.thread(threadId)!.idle();
  };
  await turn("first");
  // untrusted asks for every command and no controller is there to answer: declined.
  expect(probes[0]).toEqual({ sandbox: "workspace-write", roots: [work], allowed: false, wrote: true });

  const info = await core.updateThreadSettings(threadId, { model: "model-2", approvalPolicy: "on-request", sandbox: "read-only", writableRoots: [extra] });
  expect(info).toMatchObject({ model: "model-2", approvalPolicy: "on-request", sandbox: "read-only" });
  // Nothing to change: the same info, no record.
  expect(await core.updateThreadSettings(threadId, { model: "model-2" })).toBe(info);
  await expect(core.updateThreadSettings(threadId, { model: " " })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });

  await turn("second");
  expect(model.requests.map((r) => r.model)).toEqual(["model-1", "model-1", "model-2", "model-3", "model-3"]);
  // on-request lets a sandboxed command run; the session's default sandbox is read-only now.
  expect(probes[1]).toEqual({ sandbox: "read-only", roots: [work, extra], allowed: true, wrote: false });

  const state = await readRollout(core.store.pathFor(threadId));
  expect(state.thread).toMatchObject({ model: "model-3", approvalPolicy: "on-request", sandbox: "read-only" });
  expect(state.writableRoots).toEqual([extra]);
  expect((await core.listThreads()).find((t) => t.threadId === threadId)).toMatchObject({ model: "model-3", sandbox: "read-only" });

  // A new agent (as after a restart): the resumed thread has the changed settings, its session's sandbox too.
  await core.close();
  const resumed = new FakeModel([call("probe", {}, "c4"), say("four")]);
  core = await makeCore(resumed, tools);
  expect(await core.resumeThread(threadId)).toMatchObject({ model: "model-3", approvalPolicy: "on-request", sandbox: "read-only" });
  await turn("fourth");
  expect(resumed.requests[0]!.model).toBe("model-3");
  expect(probes[2]).toEqual({ sandbox: "read-only", roots: [work, extra], allowed: true, wrote: false });
});

it("tells every subscriber of the thread (in memory) when a client changes its settings, and nothing when nothing changed", async () => {
  const extra = path.join(home, "extra");
  const core = await makeCore(new FakeModel([]), {});
  const client = new InProcessAgentClient(core);
  const thread = await client.startThread({ cwd: home, environment: "local", model: "model-1", sandbox: "workspace-write", approvalPolicy: "untrusted" });
  // Two subscribers: the controller (a TUI) and an observer (another window).
  const watches = [await watchThread(client, thread.threadId), await watchThread(client, thread.threadId, { controller: false })];
  try {
    await client.updateThreadSettings(thread.threadId, { model: "model-1" }); // unchanged: no event
    const info = await client.updateThreadSettings(thread.threadId, { model: "model-2", approvalPolicy: "never", sandbox: "read-only", writableRoots: [extra] });
    for (const w of watches) {
      const got = await w.until((e) => e.type === "thread.settings_updated");
      expect(got).toEqual({ type: "thread.settings_updated", thread: info, writableRoots: [extra] });
      expect(w.events.filter((e) => e.type === "thread.settings_updated")).toHaveLength(1);
    }
  } finally {
    for (const w of watches) w.stop();
  }
});

it("a resume of a thread that is still loaded applies its settings overrides (told to subscribers) and refuses a new environment or cwd", async () => {
  const core = await makeCore(new FakeModel([]), {});
  const client = new InProcessAgentClient(core);
  const thread = await client.startThread({ cwd: home, environment: "local", model: "model-1", sandbox: "workspace-write", approvalPolicy: "untrusted" });
  const watch = await watchThread(client, thread.threadId, { controller: false });
  try {
    // Another client resumes it with -m and --sandbox while this one still has it open.
    const resumed = await client.resumeThread(thread.threadId, { model: "model-2", sandbox: "read-only" });
    expect(resumed).toMatchObject({ threadId: thread.threadId, model: "model-2", sandbox: "read-only", approvalPolicy: "untrusted" });
    expect(core.thread(thread.threadId)!.info).toEqual(resumed);
    expect(await watch.until((e) => e.type === "thread.settings_updated")).toMatchObject({ thread: { model: "model-2", sandbox: "read-only" } });
    expect((await readRollout(core.store.pathFor(thread.threadId))).thread).toMatchObject({ model: "model-2", sandbox: "read-only" });
    // The same values again, or none: nothing changes.
    expect(await client.resumeThread(thread.threadId, { model: "model-2", environment: "local", cwd: home })).toBe(core.thread(thread.threadId)!.info);
    await expect(client.resumeThread(thread.threadId, { environment: "unix:///nowhere.sock" })).rejects.toMatchObject({ code: ErrorCode.FailedPrecondition, message: expect.stringMatching(/is loaded with environment local/) as unknown });
    await expect(client.resumeThread(thread.threadId, { cwd: path.join(home, "elsewhere") })).rejects.toMatchObject({ code: ErrorCode.FailedPrecondition });
  } finally {
    watch.stop();
  }
});

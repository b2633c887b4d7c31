import { mkdtemp, rm, writeFile, readFile, appendFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocalEnvironment } from "../../clients/environment/local-environment.js";
import { AgentCore, type OpenEnvironmentRequest } from "./agent-core.js";
import { execSessionIdFor } from "./thread-environment.js";
import type { ThreadEvent } from "./thread/thread-event.js";
import { FakeModel, type FakeTool, call, fakeServices, hang, say } from "../../test/support/agent-fakes.js";
import type { ThreadOptions } from "../../clients/agent/agent-client.js";

let home: string;
let cores: AgentCore[] = [];

beforeEach(async () => {
  home = await mkdtemp(path.join(tmpdir(), "tether-agent-core-"));
});
afterEach(async () => {
  for (const c of cores.splice(0)) await c.close();
  await rm(home, { recursive: true, force: true });
});

async function makeCore(model: FakeModel, tools: Record<string, FakeTool> = {}, extra: { terminated?: string[]; maxQueuedEvents?: number } = {}) {
  const core = await AgentCore.create({
    tetherHome: home,
    model,
    services: fakeServices(tools, { terminated: extra.terminated }),
    openEnvironment: () => LocalEnvironment.create({ defaultCwd: home }),
    instructions: async () => "be brief",
    maxQueuedEvents: extra.maxQueuedEvents,
  });
  cores.push(core);
  return core;
}

const OPTIONS = (): ThreadOptions => ({ cwd: home, environment: "local", model: "test-model", sandbox: "workspace-write", approvalPolicy: "on-request" });

/** Subscribes, waits for the opening thread.started, and collects events until a turn ends. */
async function subscribe(core: AgentCore, threadId: string, controller = true) {
  const events: ThreadEvent[] = [];
  const abort = new AbortController();
  const it = (await core.events(threadId, { controller, signal: abort.signal }))[Symbol.asyncIterator]();
  const first = await it.next();
  expect(first.value?.type).toBe("thread.started");
  const waiters: { pred: (e: ThreadEvent) => boolean; resolve: (e: ThreadEvent) => void }[] = [];
  const pump = (async () => {
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      events.push(r.value);
      for (const w of waiters.filter((w) => w.pred(r.value))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(r.value);
      }
    }
  })();
  const until = (pred: (e: ThreadEvent) => boolean) => {
    const found = events.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise<ThreadEvent>((resolve) => waiters.push({ pred, resolve }));
  };
  const turnEnd = () => until((e) => e.type === "turn.completed" || e.type === "turn.failed" || e.type === "turn.interrupted");
  return { events, until, turnEnd, pump, stop: () => abort.abort() };
}

describe("AgentCore", () => {
  it("runs a turn: text, a tool call, its output in the next request, one terminal event", async () => {
    const model = new FakeModel([call("echo", { text: "hi" }, "c1"), say("done")]);
    const core = await makeCore(model, { echo: async (args) => ({ output: `echo:${String(args.text)}`, success: true }) });
    const thread = await core.startThread(OPTIONS());
    const sub = await subscribe(core, thread.threadId);
    const { turnId } = await core.startTurn(thread.threadId, { text: "say hi" });
    const end = await sub.turnEnd();
    expect(end.type).toBe("turn.completed");
    expect(model.requests).toHaveLength(2);
    expect(model.requests[0]!.instructions).toBe("be brief");
    expect(model.requests[1]!.input).toEqual([
      { type: "message", role: "user", text: "say hi" },
      { type: "function_call", callId: "c1", name: "echo", arguments: '{"text":"hi"}' },
      { type: "function_call_output", callId: "c1", output: "echo:hi" },
    ]);
    const types = sub.events.map((e) => e.type);
    expect(types[0]).toBe("turn.started");
    expect(types.filter((t) => t.startsWith("turn."))).toEqual(["turn.started", "turn.completed"]);
    const deltas = sub.events.filter((e) => e.type === "item.delta").map((e) => (e as { delta: string }).delta).join("");
    expect(deltas).toBe("done");
    expect(sub.events.every((e) => !("turnId" in e) || e.turnId === turnId)).toBe(true);
  });

  it("has the tools prefetch their parsers when the model calls a tool, not before its request is out, nor for an answer without calls", async () => {
    const model = new FakeModel([call("echo", { text: "hi" }, "c1"), say("done")]);
    const services = fakeServices({ echo: async () => ({ output: "ok", success: true }) });
    const prefetchedAtRequest: number[] = [];
    const core = await AgentCore.create({
      tetherHome: home,
      model,
      services: { ...services, tools: async (setup) => ({ ...(await services.tools(setup)), prefetch: () => prefetchedAtRequest.push(model.requests.length) }) },
      openEnvironment: () => LocalEnvironment.create({ defaultCwd: home }),
      instructions: async () => "be brief",
    });
    cores.push(core);
    const thread = await core.startThread(OPTIONS());
    const sub = await subscribe(core, thread.threadId);
    await core.startTurn(thread.threadId, { text: "say hi" });
    expect((await sub.turnEnd()).type).toBe("turn.completed");
    // At the first request's call (after that request was made); the second request answered without one.
    expect(prefetchedAtRequest).toEqual([1]);
    sub.stop();
  });

  it("asks the controller and runs the call only when accepted; decline goes back to the model", async () => {
    const model = new FakeModel([call("risky", {}, "c1"), call("risky", {}, "c2"), say("ok")]);
    let ran = 0;
    const core = await makeCore(model, {
      risky: async (_a, ctx) => {
        const auth = await ctx.authorize({ kind: "command", commandLine: "rm -rf x", argv: ["rm", "-rf", "x"], cwd: ctx.cwd, escalated: true });
        if (!auth.allowed) return { output: `declined: ${auth.reason}`, success: false };
        ran++;
        return { output: "ran", success: true };
      },
    });
    const thread = await core.startThread(OPTIONS());
    const sub = await subscribe(core, thread.threadId);
    await core.startTurn(thread.threadId, { text: "go" });
    const first = await sub.until((e) => e.type === "item.started" && e.item.type === "approval");
    const req1 = (first as { item: { id: string } }).item.id;
    expect((await core.listPendingApprovals(thread.threadId)).map((r) => r.requestId)).toEqual([req1]);
    await core.respond(thread.threadId, req1, { type: "accept" });
    const second = await sub.until((e) => e.type === "item.started" && e.item.type === "approval" && e.item.id !== req1);
    await core.respond(thread.threadId, (second as { item: { id: string } }).item.id, { type: "decline", reason: "no" });
    expect((await sub.turnEnd()).type).toBe("turn.completed");
    expect(ran).toBe(1);
    expect(model.requests[2]!.input.at(-1)).toEqual({ type: "function_call_output", callId: "c2", output: "declined: no" });
    const decisions = sub.events.flatMap((e) => (e.type === "item.completed" && e.item.type === "approval" ? [e.item.decision?.type] : []));
    expect(decisions).toEqual(["accept", "decline"]);
  });

  it("declines when no controller is attached, and cancel ends the turn as interrupted", async () => {
    const model = new FakeModel([call("risky", {}, "c1"), call("risky", {}, "c2")]);
    const core = await makeCore(model, {
      risky: async (_a, ctx) => {
        const auth = await ctx.authorize({ kind: "command", commandLine: "x", argv: ["x"], cwd: ctx.cwd, escalated: true });
        return { output: auth.allowed ? "ran" : `no: ${auth.reason}`, success: auth.allowed };
      },
    });
    const thread = await core.startThread(OPTIONS());
    const watcher = await subscribe(core, thread.threadId, false);
    await core.startTurn(thread.threadId, { text: "go" });
    // Nobody is controller: the first call is declined by policy, the model asks again.
    await model.requested(2);
    expect(model.requests[1]!.input.at(-1)).toMatchObject({ type: "function_call_output", callId: "c1" });
    expect((model.requests[1]!.input.at(-1) as { output: string }).output).toMatch(/no client is attached/);
    expect((await watcher.turnEnd()).type).toBeDefined();
    watcher.stop();
    const model2 = new FakeModel([call("risky", {}, "c3")]);
    const core2 = await makeCore(model2, {
      risky: async (_a, ctx) => {
        const auth = await ctx.authorize({ kind: "command", commandLine: "x", argv: ["x"], cwd: ctx.cwd, escalated: true });
        return { output: auth.allowed ? "ran" : "no", success: auth.allowed };
      },
    });
    const t2 = await core2.startThread(OPTIONS());
    const sub = await subscribe(core2, t2.threadId);
    await core2.startTurn(t2.threadId, { text: "go" });
    const asked = await sub.until((e) => e.type === "item.started" && e.item.type === "approval");
    await core2.respond(t2.threadId, (asked as { item: { id: string } }).item.id, { type: "cancel" });
    expect((await sub.turnEnd()).type).toBe("turn.interrupted");
    expect(model2.requests).toHaveLength(1);
  });

  it("raises the exec session's elicitation counter while an approval waits, and lowers it after", async () => {
    const model = new FakeModel([call("risky", {}, "c1"), say("ok")]);
    const counts: number[] = [];
    let onRaised!: () => void;
    const raised = new Promise<void>((r) => (onRaised = r));
    const core = await AgentCore.create({
      tetherHome: home,
      model,
      services: fakeServices({
        risky: async (_a, ctx) => {
          const auth = await ctx.authorize({ kind: "command", commandLine: "x", argv: ["x"], cwd: ctx.cwd, escalated: true });
          return { output: auth.allowed ? "ran" : "no", success: auth.allowed };
        },
      }),
      openEnvironment: async () => {
        const env = await LocalEnvironment.create({ defaultCwd: home });
        const session = env.session;
        // Record what the exec server answers: the real counter, not the agent's idea of it.
        const inc = session.incrementElicitation.bind(session);
        const dec = session.decrementElicitation.bind(session);
        Object.assign(session, {
          incrementElicitation: async () => { const n = await inc(); counts.push(n); onRaised(); return n; },
          decrementElicitation: async () => { const n = await dec(); counts.push(n); return n; },
        });
        return env;
      },
    });
    cores.push(core);
    const thread = await core.startThread(OPTIONS());
    const sub = await subscribe(core, thread.threadId);
    await core.startTurn(thread.threadId, { text: "go" });
    const asked = await sub.until((e) => e.type === "item.started" && e.item.type === "approval");
    // The counter went up before anyone could answer.
    await raised;
    expect(counts).toEqual([1]);
    await core.respond(thread.threadId, (asked as { item: { id: string } }).item.id, { type: "accept" });
    expect((await sub.turnEnd()).type).toBe("turn.completed");
    expect(counts).toEqual([1, 0]);
  });

  it("a new controller takes over a waiting approval; an interrupt while it waits ends the turn", async () => {
    const model = new FakeModel([call("risky", {}, "c1")]);
    const core = await makeCore(model, {
      risky: async (_a, ctx) => {
        const auth = await ctx.authorize({ kind: "command", commandLine: "x", argv: ["x"], cwd: ctx.cwd, escalated: true });
        return { output: auth.allowed ? "ran" : "no", success: auth.allowed };
      },
    });
    const thread = await core.startThread(OPTIONS());
    const first = await subscribe(core, thread.threadId);
    await core.startTurn(thread.threadId, { text: "go" });
    const asked = await first.until((e) => e.type === "item.started" && e.item.type === "approval");
    // The second controller is shown the request that waits (a UI that reconnected).
    const second = await subscribe(core, thread.threadId);
    const replayed = await second.until((e) => e.type === "item.started" && e.item.type === "approval");
    expect((replayed as { item: { id: string } }).item.id).toBe((asked as { item: { id: string } }).item.id);
    await core.interrupt(thread.threadId);
    expect((await second.turnEnd()).type).toBe("turn.interrupted");
    expect(await core.listPendingApprovals(thread.threadId)).toEqual([]);
    const closed = second.events.find((e) => e.type === "item.completed" && e.item.type === "approval");
    expect(closed).toMatchObject({ item: { decision: { type: "cancel" }, decidedBy: "server" } });
    first.stop();
    second.stop();
  });

  it("interrupt aborts the model request and ends the turn's processes", async () => {
    const model = new FakeModel([hang()]);
    const terminated: string[] = [];
    const core = await makeCore(model, {}, { terminated });
    const thread = await core.startThread(OPTIONS());
    const sub = await subscribe(core, thread.threadId);
    const { turnId } = await core.startTurn(thread.threadId, { text: "hello" });
    await model.requested(1);
    await core.interrupt(thread.threadId);
    expect((await sub.turnEnd()).type).toBe("turn.interrupted");
    expect(terminated).toEqual([turnId]);
    // The thread takes a new turn afterwards.
    expect(core.thread(thread.threadId)!.runningTurnId).toBeUndefined();
  });

  it("steer adds input that the next model request carries", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const model = new FakeModel([call("wait", {}, "c1"), say("ok")]);
    const core = await makeCore(model, { wait: async () => { await gate; return { output: "waited", success: true }; } });
    const thread = await core.startThread(OPTIONS());
    const sub = await subscribe(core, thread.threadId);
    await core.startTurn(thread.threadId, { text: "start" });
    await model.requested(1);
    await core.steer(thread.threadId, "also check the tests");
    release();
    expect((await sub.turnEnd()).type).toBe("turn.completed");
    expect(model.requests[1]!.input.at(-1)).toEqual({ type: "message", role: "user", text: "also check the tests" });
  });

  it("drops a subscriber that falls too far behind instead of buffering without bound", async () => {
    const model = new FakeModel([say("x".repeat(10))]);
    const core = await makeCore(model, {}, { maxQueuedEvents: 3 });
    const thread = await core.startThread(OPTIONS());
    const slow = (await core.events(thread.threadId))[Symbol.asyncIterator]();
    const sub = await subscribe(core, thread.threadId);
    await core.startTurn(thread.threadId, { text: "hello" });
    await sub.turnEnd();
    await expect((async () => { for (;;) { const r = await slow.next(); if (r.done) return "done"; } })()).rejects.toThrow(/fell more than 3 events behind/);
  });
});

describe("AgentCore persistence", () => {
  it("resumes a thread after the core is gone with the exact model input", async () => {
    const model = new FakeModel([call("echo", { text: "a" }, "c1"), say("first")]);
    const tools = { echo: (async (args) => ({ output: String(args.text), success: true })) as FakeTool };
    const core = await makeCore(model, tools);
    const thread = await core.startThread(OPTIONS());
    const sub = await subscribe(core, thread.threadId);
    await core.startTurn(thread.threadId, { text: "one" });
    await sub.turnEnd();
    const before = core.thread(thread.threadId)!.conversation();
    await core.close();

    const model2 = new FakeModel([say("second")]);
    const core2 = await makeCore(model2, tools);
    expect((await core2.listThreads()).map((t) => t.threadId)).toEqual([thread.threadId]);
    await core2.resumeThread(thread.threadId);
    const sub2 = await subscribe(core2, thread.threadId);
    await core2.startTurn(thread.threadId, { text: "two" });
    await sub2.turnEnd();
    expect(model2.requests[0]!.input).toEqual([...before, { type: "message", role: "user", text: "two" }]);
    const snap = await core2.readThread(thread.threadId);
    expect(snap.turns.map((t) => t.status)).toEqual(["completed", "completed"]);
  });

  it("forks (all or the first N turns) and rolls back", async () => {
    const model = new FakeModel([say("a"), say("b"), say("after fork"), say("after rollback")]);
    const core = await makeCore(model);
    const thread = await core.startThread(OPTIONS());
    const sub = await subscribe(core, thread.threadId);
    for (const text of ["one", "two"]) {
      await core.startTurn(thread.threadId, { text });
      await sub.turnEnd();
      sub.events.length = 0;
    }
    const fork = await core.forkThread(thread.threadId, { turns: 1 });
    expect(fork.forkedFrom).toEqual({ threadId: thread.threadId, turnCount: 1 });
    const fsub = await subscribe(core, fork.threadId);
    await core.startTurn(fork.threadId, { text: "three" });
    await fsub.turnEnd();
    expect(model.requests[2]!.input.map((i) => (i.type === "message" ? i.text : i.type))).toEqual(["one", "a", "three"]);

    await core.rollback(thread.threadId, 1);
    await core.startTurn(thread.threadId, { text: "again" });
    await sub.turnEnd();
    expect(model.requests[3]!.input.map((i) => (i.type === "message" ? i.text : i.type))).toEqual(["one", "a", "again"]);
    // The rollback is on disk too: a fresh read sees it.
    await core.close();
    const core2 = await makeCore(new FakeModel([]));
    const snap = await core2.readThread(thread.threadId);
    expect(snap.turns).toHaveLength(2);
  });

  it("ignores a torn last line, refuses a newer format, and answers dangling calls as aborted", async () => {
    const core = await makeCore(new FakeModel([]));
    const file = path.join(home, "sessions", "thread_x.jsonl");
    const info = { threadId: "thread_x", createdAt: "2026-01-01T00:00:00.000Z", updatedAt: "2026-01-01T00:00:00.000Z", cwd: home, environment: "local", model: "m", sandbox: "workspace-write", approvalPolicy: "on-request", preview: "p" };
    await writeFile(file, [
      JSON.stringify({ t: "meta", format: 1, thread: info }),
      JSON.stringify({ t: "turn", turnId: "t1", at: info.createdAt }),
      JSON.stringify({ t: "input", turnId: "t1", item: { type: "message", role: "user", text: "hi" } }),
      JSON.stringify({ t: "input", turnId: "t1", item: { type: "function_call", callId: "c9", name: "x", arguments: "{}" } }),
      '{"t":"input","turnId":"t1","item":{"ty',
    ].join("\n"));
    const events: ThreadEvent[] = [];
    await core.resumeThread("thread_x");
    const conv = core.thread("thread_x")!.conversation();
    expect(conv.at(-1)).toMatchObject({ type: "function_call_output", callId: "c9" });
    expect((await core.readThread("thread_x")).turns[0]!.status).toBe("interrupted");
    expect(events).toEqual([]);
    expect(await readFile(file, "utf8")).toContain('"callId":"c9","output":"aborted');
    expect(core.thread("thread_x")!.fanout.warnings()).toEqual([{ type: "warning", message: expect.stringMatching(/ignored a torn last line/) as unknown, id: expect.any(String) as unknown }]);
    // The torn fragment was cut before the resume appended: the file reads back whole.
    await core.closeThread("thread_x");
    await core.resumeThread("thread_x");
    expect(core.thread("thread_x")!.fanout.warnings()).toEqual([]);
    expect(core.thread("thread_x")!.conversation()).toEqual(conv);

    await writeFile(path.join(home, "sessions", "thread_new.jsonl"), `${JSON.stringify({ t: "meta", format: 99, thread: { ...info, threadId: "thread_new" } })}\n`);
    await expect(core.resumeThread("thread_new")).rejects.toThrow(/format 99 is newer than this tether understands/);
  });

  it("lists thousands of threads from the index, rebuilt once from the rollouts when lost", async () => {
    const core = await makeCore(new FakeModel([]));
    const sessions = path.join(home, "sessions");
    const base = { createdAt: "2026-01-01T00:00:00.000Z", cwd: home, environment: "local", model: "m", sandbox: "workspace-write", approvalPolicy: "never", preview: "" };
    const n = 2000;
    for (let i = 0; i < n; i++) {
      const info = { ...base, threadId: `thread_many${i}`, updatedAt: `2026-01-01T00:00:00.${String(i % 1000).padStart(3, "0")}Z` };
      await writeFile(path.join(sessions, `thread_many${i}.jsonl`), `${JSON.stringify({ t: "meta", format: 1, thread: info })}\n`);
    }
    const listed = await core.listThreads({ limit: 5 });
    expect(listed).toHaveLength(5);
    expect((await core.listThreads()).length).toBe(n);
    // The rebuilt index holds every thread: a fresh core lists from it alone.
    const index = await readFile(path.join(sessions, "index.jsonl"), "utf8");
    expect(index.trim().split("\n")).toHaveLength(n);
    const core2 = await makeCore(new FakeModel([]));
    expect((await core2.listThreads()).length).toBe(n);
  });

  it("rebuilds a lost index from the rollouts", async () => {
    const core = await makeCore(new FakeModel([]));
    const a = await core.startThread(OPTIONS());
    const b = await core.startThread(OPTIONS());
    await core.close();
    await rm(path.join(home, "sessions", "index.jsonl"));
    const core2 = await makeCore(new FakeModel([]));
    expect((await core2.listThreads()).map((t) => t.threadId).sort()).toEqual([a.threadId, b.threadId].sort());
    await appendFile(path.join(home, "sessions", "index.jsonl"), "");
  });
});

describe("AgentCore environment requests across resume and fork", () => {
  it("keeps the exec session id and writable roots across resume; a fork gets its own session and keeps the roots", async () => {
    const requests: OpenEnvironmentRequest[] = [];
    const core = await AgentCore.create({
      tetherHome: home,
      model: new FakeModel([]),
      services: fakeServices({}),
      openEnvironment: (request) => {
        requests.push(request);
        return LocalEnvironment.create({ defaultCwd: home });
      },
      detachedTtlMs: 123_000,
    });
    cores.push(core);
    const roots = (r: OpenEnvironmentRequest) => r.defaultSandbox.writableRoots;
    const thread = await core.startThread({ ...OPTIONS(), writableRoots: ["/srv/extra"] });
    expect(requests[0]).toMatchObject({ execSessionId: execSessionIdFor(thread.threadId), detachedTtlMs: 123_000 });
    expect(roots(requests[0]!)).toEqual([home, "/srv/extra"]);

    await core.closeThread(thread.threadId);
    await core.resumeThread(thread.threadId);
    expect(requests[1]!.execSessionId).toBe(requests[0]!.execSessionId);
    expect(roots(requests[1]!)).toEqual([home, "/srv/extra"]);

    const fork = await core.forkThread(thread.threadId);
    expect(requests[2]!.execSessionId).toBe(execSessionIdFor(fork.threadId));
    expect(requests[2]!.execSessionId).not.toBe(requests[0]!.execSessionId);
    expect(roots(requests[2]!)).toEqual([home, "/srv/extra"]);

    // New roots on resume are recorded and kept by the next resume.
    await core.closeThread(thread.threadId);
    await core.resumeThread(thread.threadId, { writableRoots: ["/srv/other"] });
    expect(roots(requests[3]!)).toEqual([home, "/srv/other"]);
    await core.closeThread(thread.threadId);
    await core.resumeThread(thread.threadId);
    expect(roots(requests[4]!)).toEqual([home, "/srv/other"]);
    expect(requests[4]!.execSessionId).toBe(requests[0]!.execSessionId);
  });
});

import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { ProcessSpecSchema } from "../../../gen/tether/exec/v1/process_pb.js";
import { Decision, NetworkDecision } from "../../../gen/tether/exec/v1/session_pb.js";
import { ErrorCode } from "../../common/tether-error.js";
import { launcherPath } from "../process/launcher-path.js";
import { ProcessManager } from "../process/process-manager.js";
import { ManualClock } from "../../../test/support/manual-clock.js";
import { SessionManager } from "./session-manager.js";

const spec = (init: MessageInitShape<typeof ProcessSpecSchema>) => create(ProcessSpecSchema, init);
const request = { processId: "p", file: "/bin/true", argv: ["true"], cwd: "/", env: {} };

function setup(options: { ttlMs?: number; decisionTimeoutMs?: number } = {}) {
  const processes = new ProcessManager({ launcherPath: launcherPath(), defaultCwd: "/tmp" });
  // Session timers run on a manual clock: a test advances time past a TTL or a decision timeout instead of sleeping.
  const clock = new ManualClock();
  const sessions = new SessionManager({
    processes,
    defaultDetachedTtlMs: options.ttlMs ?? 60_000,
    decisionTimeoutMs: options.decisionTimeoutMs ?? 60_000,
    clock,
  });
  return { processes, sessions, clock };
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

/** Reads events until `predicate` holds; the stream stays open (the session stays attached). */
async function until<T>(events: AsyncIterator<T>, predicate: (e: T) => boolean): Promise<T> {
  for (;;) {
    const next = await events.next();
    if (next.done) throw new Error("events ended");
    if (predicate(next.value)) return next.value;
  }
}

describe("SessionManager", () => {
  it("resumes a live session by id and creates one for a new id", () => {
    const { sessions, processes } = setup();
    cleanup.push(() => sessions.closeAll(), () => processes.close());
    expect(sessions.open("s1", 0).resumed).toBe(false);
    expect(sessions.open("s1", 0).resumed).toBe(true);
    expect(sessions.open("", 0).session.id).toMatch(/[0-9a-f-]{36}/);
  });

  it("counts elicitations, pauses the session's stopwatches, and refuses a decrement at 0", async () => {
    const { sessions, processes } = setup();
    cleanup.push(() => sessions.closeAll(), () => processes.close());
    sessions.open("s", 0);
    const { process } = await processes.start("sleeper", spec({ argv: ["sleep", "30"], timeouts: { wallMs: 60_000 } }), { sessionId: "s" });
    expect(sessions.incrementElicitation("s")).toBe(1);
    expect(process.paused).toBe(true);
    expect(sessions.incrementElicitation("s")).toBe(2);
    expect(sessions.decrementElicitation("s")).toBe(1);
    expect(process.paused).toBe(true);
    expect(sessions.decrementElicitation("s")).toBe(0);
    expect(process.paused).toBe(false);
    expect(() => sessions.decrementElicitation("s")).toThrow(expect.objectContaining({ code: ErrorCode.FailedPrecondition }));
  });

  it("kills a detached session's processes when its TTL runs out", async () => {
    const { sessions, processes, clock } = setup({ ttlMs: 50 });
    cleanup.push(() => processes.close());
    sessions.open("short", 0);
    const { process } = await processes.start("p", spec({ argv: ["sleep", "30"] }), { sessionId: "short" });
    clock.advance(49);
    expect(sessions.has("short")).toBe(true);
    expect(process.running).toBe(true);
    clock.advance(1);
    const status = await process.exited;
    expect(status.signal).toBe(9);
    expect(status.reason).toContain("expired");
    expect(sessions.has("short")).toBe(false);
  });

  it("keeps an attached session alive past its TTL", async () => {
    const { sessions, processes, clock } = setup({ ttlMs: 30 });
    cleanup.push(() => sessions.closeAll(), () => processes.close());
    sessions.open("attached", 0);
    const ac = new AbortController();
    const events = sessions.events("attached", false, ac.signal)[Symbol.asyncIterator]();
    await until(events, (e) => e.event.case === "ready");
    // Several TTLs pass while the stream is open: the session must still be there.
    clock.advance(150);
    expect(sessions.has("attached")).toBe(true);
    // Detached, the countdown starts again from the full TTL.
    ac.abort();
    await events.next();
    await clock.waitForTimer((t) => t.ms === 30);
    clock.advance(29);
    expect(sessions.has("attached")).toBe(true);
    clock.advance(1);
    expect(sessions.has("attached")).toBe(false);
  });

  it("routes an escalation to the controller and returns its decision, pausing meanwhile", async () => {
    const { sessions, processes } = setup();
    cleanup.push(() => sessions.closeAll(), () => processes.close());
    sessions.open("c", 0);
    const ac = new AbortController();
    const events = sessions.events("c", true, ac.signal)[Symbol.asyncIterator]();
    await until(events, (e) => e.event.case === "ready");
    const decision = sessions.requestDecision("c", request, new AbortController().signal);
    const ev = await until(events, (e) => e.event.case === "escalation");
    expect(sessions.get("c").paused).toBe(true);
    if (ev.event.case !== "escalation") throw new Error("unreachable");
    expect(ev.event.value.argv).toEqual(["true"]);
    sessions.decide("c", ev.event.value.escalationId, Decision.ESCALATE, "");
    expect(await decision).toEqual({ decision: "escalate", reason: undefined });
    expect(sessions.get("c").paused).toBe(false);
    ac.abort();
  });

  it("denies when no controller is attached or no decision comes in time", async () => {
    const { sessions, processes, clock } = setup({ decisionTimeoutMs: 20 });
    cleanup.push(() => sessions.closeAll(), () => processes.close());
    sessions.open("n", 0);
    expect((await sessions.requestDecision("n", request, new AbortController().signal)).decision).toBe("deny");
    const ac = new AbortController();
    const events = sessions.events("n", true, ac.signal)[Symbol.asyncIterator]();
    await until(events, (e) => e.event.case === "ready");
    const pending = sessions.requestDecision("n", request, new AbortController().signal);
    await until(events, (e) => e.event.case === "escalation");
    clock.advance(19);
    expect(sessions.get("n").pending.size).toBe(1);
    clock.advance(1);
    const result = await pending;
    expect(result.decision).toBe("deny");
    expect(result.reason).toContain("no decision within");
    ac.abort();
  });

  it("answers NOT_FOUND for an unknown session and for a decided escalation", () => {
    const { sessions } = setup();
    expect(() => sessions.get("nope")).toThrow(expect.objectContaining({ code: ErrorCode.NotFound }));
    sessions.open("x", 0);
    expect(() => sessions.decide("x", "missing", Decision.RUN, "")).toThrow(expect.objectContaining({ code: ErrorCode.NotFound }));
  });

  it("asks the controller about a host, remembers ALLOW_ALWAYS for the session, pauses while asking", async () => {
    const { sessions, processes } = setup();
    cleanup.push(() => sessions.closeAll(), () => processes.close());
    sessions.open("net", 0);
    const abort = new AbortController();
    const events = sessions.events("net", true, abort.signal)[Symbol.asyncIterator]();
    cleanup.push(async () => abort.abort());
    await until(events, (e) => e.event.case === "ready");
    const ask = { processId: "p", host: "a.example", port: 443, protocol: "https" };
    const answer = sessions.requestNetworkDecision("net", ask, new AbortController().signal);
    const asked = await until(events, (e) => e.event.case === "networkRequest");
    if (asked.event.case !== "networkRequest") throw new Error("unreachable");
    expect(asked.event.value).toMatchObject({ host: "a.example", port: 443, protocol: "https", processId: "p" });
    expect(sessions.get("net").paused).toBe(true);
    sessions.decideNetwork("net", asked.event.value.requestId, NetworkDecision.ALLOW_ALWAYS, "");
    expect((await answer).decision).toBe("allow_always");
    const resolved = await until(events, (e) => e.event.case === "networkResolved");
    expect(resolved.event.value).toMatchObject({ decision: NetworkDecision.ALLOW_ALWAYS });
    expect(sessions.get("net").paused).toBe(false);
    // Remembered: not asked again, for any process of the session; another port is asked.
    expect(await sessions.requestNetworkDecision("net", { ...ask, processId: "q" }, new AbortController().signal)).toMatchObject({ decision: "allow_once" });
    void sessions.requestNetworkDecision("net", { ...ask, port: 80 }, new AbortController().signal);
    expect((await until(events, (e) => e.event.case === "networkRequest")).event.value).toMatchObject({ port: 80 });
    expect(() => sessions.decideNetwork("net", "nope", NetworkDecision.DENY, "")).toThrow(expect.objectContaining({ code: ErrorCode.NotFound }));
  });

  it("denies a network request with no controller, on the session's own timeout, and when the session closes", async () => {
    const { sessions, processes, clock } = setup({ decisionTimeoutMs: 60_000 });
    cleanup.push(() => sessions.closeAll(), () => processes.close());
    const ask = { processId: "p", host: "b.example", port: 443, protocol: "https" };
    sessions.open("alone", 0);
    expect((await sessions.requestNetworkDecision("alone", ask, new AbortController().signal)).reason).toMatch(/no controller/);
    expect(sessions.open("quick", 0, {}, undefined, 50).session.decisionTimeoutMs).toBe(50);
    const abort = new AbortController();
    cleanup.push(async () => abort.abort());
    const events = sessions.events("quick", true, abort.signal)[Symbol.asyncIterator]();
    await until(events, (e) => e.event.case === "ready");
    const quick = sessions.requestNetworkDecision("quick", ask, new AbortController().signal);
    await until(events, (e) => e.event.case === "networkRequest");
    clock.advance(50);
    expect(await quick).toEqual({ decision: "deny", reason: "no decision within 50 ms" });
    sessions.open("closing", 0);
    const closingAbort = new AbortController();
    cleanup.push(async () => closingAbort.abort());
    const closingEvents = sessions.events("closing", true, closingAbort.signal)[Symbol.asyncIterator]();
    await until(closingEvents, (e) => e.event.case === "ready");
    const pending = sessions.requestNetworkDecision("closing", ask, new AbortController().signal);
    await until(closingEvents, (e) => e.event.case === "networkRequest");
    await sessions.close("closing");
    expect(await pending).toEqual({ decision: "deny", reason: "the session was closed" });
    expect(() => sessions.open("x", 0, {}, undefined, 48 * 3600_000)).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
  });
});

import { describe, expect, it } from "vitest";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { ApprovalDecision, ApprovalRequest } from "./approval-types.js";
import { PendingApprovals, type ApprovalTimer, type PendingApprovalsOptions, type ResolvedBy } from "./pending-approvals.js";

const init = (callId = "call-1"): Omit<ApprovalRequest, "requestId"> => ({
  threadId: "t1",
  turnId: "turn-1",
  callId,
  action: { kind: "command", commandLine: "cargo build", argv: ["cargo", "build"], cwd: "/w", escalated: true },
  reason: "the model asks to run outside the sandbox",
  promptKind: "sandbox_approval",
  proposedRule: { pattern: ["cargo", "build"], decision: "allow" },
  availableDecisions: ["accept", "accept_for_session", "accept_with_rule", "decline", "cancel"],
});

/** A timer driven by the test: fire() runs what is due. */
class ManualTimer implements ApprovalTimer {
  readonly timers = new Map<number, { fn: () => void; ms: number }>();
  #next = 0;
  setTimeout(fn: () => void, ms: number): unknown {
    this.timers.set(++this.#next, { fn, ms });
    return this.#next;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  fireAll(): void {
    for (const [id, t] of [...this.timers]) {
      this.timers.delete(id);
      t.fn();
    }
  }
}

function table(extra: Partial<PendingApprovalsOptions> = {}) {
  const emitted: ApprovalRequest[] = [];
  const resolved: [string, ApprovalDecision, ResolvedBy][] = [];
  const hooks: string[] = [];
  let id = 0;
  const t = new PendingApprovals({
    onRequest: (r) => emitted.push(r),
    onResolved: (r, d, by) => resolved.push([r.requestId, d, by]),
    onFirstPending: () => hooks.push("first"),
    onLastResolved: () => hooks.push("last"),
    newId: () => `req-${++id}`,
    ...extra,
  });
  return { t, emitted, resolved, hooks };
}

async function rejection(p: Promise<unknown>): Promise<TetherError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof TetherError) return err;
    throw err;
  }
  throw new Error("expected a rejection");
}

function errorOf(fn: () => void): TetherError {
  try {
    fn();
  } catch (err) {
    if (err instanceof TetherError) return err;
    throw err;
  }
  throw new Error("expected a TetherError");
}

describe("PendingApprovals", () => {
  it("emits the request as data, lists it, and resolves with the user's answer", async () => {
    const { t, emitted, resolved, hooks } = table();
    const waiting = t.request(init(), { signal: new AbortController().signal });
    expect(emitted).toHaveLength(1);
    expect(JSON.parse(JSON.stringify(emitted[0]))).toEqual(emitted[0]); // serializable
    expect(emitted[0]!.requestId).toBe("req-1");
    expect(t.listPending().map((r) => r.requestId)).toEqual(["req-1"]);
    expect(hooks).toEqual(["first"]);
    t.respond("req-1", { type: "accept_for_session" });
    await expect(waiting).resolves.toEqual({ type: "accept_for_session" });
    expect(t.listPending()).toEqual([]);
    expect(resolved).toEqual([["req-1", { type: "accept_for_session" }, "user"]]);
    expect(hooks).toEqual(["first", "last"]);
  });

  it("raises the elicitation hook once for overlapping requests and lowers it when the last resolves", async () => {
    const { t, hooks } = table();
    const signal = new AbortController().signal;
    const a = t.request(init("a"), { signal });
    const b = t.request(init("b"), { signal });
    expect(hooks).toEqual(["first"]);
    t.respond("req-2", { type: "decline", reason: "no" });
    expect(hooks).toEqual(["first"]);
    t.respond("req-1", { type: "accept" });
    expect(hooks).toEqual(["first", "last"]);
    await expect(a).resolves.toEqual({ type: "accept" });
    await expect(b).resolves.toEqual({ type: "decline", reason: "no" });
  });

  it("answers NotFound for an unknown id and FailedPrecondition for a second answer", async () => {
    const { t } = table();
    const waiting = t.request(init(), { signal: new AbortController().signal });
    expect(errorOf(() => t.respond("nope", { type: "accept" })).code).toBe(ErrorCode.NotFound);
    t.respond("req-1", { type: "accept" });
    await waiting;
    const second = errorOf(() => t.respond("req-1", { type: "decline" }));
    expect(second.code).toBe(ErrorCode.FailedPrecondition);
  });

  it("refuses a decision that was not offered, and a rule with an empty pattern, keeping the request", async () => {
    const { t } = table();
    const waiting = t.request({ ...init(), availableDecisions: ["accept", "decline"] }, { signal: new AbortController().signal });
    expect(errorOf(() => t.respond("req-1", { type: "accept_for_session" })).code).toBe(ErrorCode.InvalidArgument);
    expect(t.size).toBe(1);
    t.respond("req-1", { type: "decline" });
    await expect(waiting).resolves.toEqual({ type: "decline" });
    const w2 = t.request(init(), { signal: new AbortController().signal });
    expect(errorOf(() => t.respond("req-2", { type: "accept_with_rule", rule: { pattern: [], decision: "allow" } })).code).toBe(ErrorCode.InvalidArgument);
    t.respond("req-2", { type: "accept_with_rule", rule: { pattern: ["cargo"], decision: "allow" } });
    await expect(w2).resolves.toMatchObject({ type: "accept_with_rule" });
  });

  it("removes the request and rejects with the abort reason when the turn's signal fires", async () => {
    const { t, resolved, hooks } = table();
    const ac = new AbortController();
    const waiting = t.request(init(), { signal: ac.signal });
    const reason = new TetherError(ErrorCode.Cancelled, "turn interrupted");
    ac.abort(reason);
    expect(await rejection(waiting)).toBe(reason);
    expect(t.listPending()).toEqual([]);
    expect(resolved).toEqual([["req-1", { type: "cancel" }, "abort"]]);
    expect(hooks).toEqual(["first", "last"]);
    expect(errorOf(() => t.respond("req-1", { type: "accept" })).code).toBe(ErrorCode.FailedPrecondition);
  });

  it("rejects at once for an already aborted signal and parks nothing", async () => {
    const { t, emitted, hooks } = table();
    const err = await rejection(t.request(init(), { signal: AbortSignal.abort() }));
    expect(err.code).toBe(ErrorCode.Cancelled);
    expect(emitted).toEqual([]);
    expect(hooks).toEqual([]);
  });

  it("declines at once when no controller is attached, without emitting or raising the hook", async () => {
    const { t, emitted, hooks, resolved } = table({ hasController: () => false });
    const d = await t.request(init(), { signal: new AbortController().signal });
    expect(d).toEqual({ type: "decline", reason: expect.stringMatching(/no client is attached/) });
    expect(emitted).toEqual([]);
    expect(hooks).toEqual([]);
    expect(resolved.map((r) => r[2])).toEqual(["policy"]);
  });

  it("declines on the injected timer after timeoutMs, and clears the timer when answered", async () => {
    const timer = new ManualTimer();
    const { t, resolved } = table({ timer, timeoutMs: 5_000 });
    const a = t.request(init("a"), { signal: new AbortController().signal });
    expect([...timer.timers.values()].map((x) => x.ms)).toEqual([5_000]);
    timer.fireAll();
    await expect(a).resolves.toEqual({ type: "decline", reason: "nobody answered within 5000 ms" });
    expect(resolved.map((r) => r[2])).toEqual(["timeout"]);
    const b = t.request(init("b"), { signal: new AbortController().signal });
    t.respond("req-2", { type: "accept" });
    await b;
    expect(timer.timers.size).toBe(0);
  });

  it("does not leave abort listeners behind", async () => {
    const { t, resolved, hooks } = table();
    const ac = new AbortController();
    for (let i = 0; i < 50; i++) {
      const p = t.request(init(`c${i}`), { signal: ac.signal });
      t.respond(`req-${i + 1}`, { type: "accept" });
      await p;
    }
    // Had listeners leaked, aborting now would try to finish 50 stale requests: nothing may happen.
    ac.abort();
    expect(resolved).toHaveLength(50);
    expect(resolved.every((r) => r[2] === "user")).toBe(true);
    expect(hooks).toHaveLength(100);
    expect(t.size).toBe(0);
  });

  it("bounds the table, refuses reused ids, and never parks a request the controller could not receive", async () => {
    const { t } = table({ maxPending: 2 });
    const signal = new AbortController().signal;
    const a = t.request(init("a"), { signal });
    const b = t.request(init("b"), { signal });
    expect((await rejection(t.request(init("c"), { signal }))).code).toBe(ErrorCode.ResourceExhausted);
    expect((await rejection(t.request({ ...init(), requestId: "req-1" }, { signal }))).code).toBe(ErrorCode.AlreadyExists);
    t.close("bye");
    expect((await rejection(a)).message).toBe("bye");
    expect((await rejection(b)).code).toBe(ErrorCode.Cancelled);
    expect((await rejection(t.request(init(), { signal }))).code).toBe(ErrorCode.FailedPrecondition);

    const broken = table({ onRequest: () => { throw new Error("stream closed"); } });
    const err = await rejection(broken.t.request(init(), { signal }));
    expect(err.message).toMatch(/emitting an approval request: stream closed/);
    expect(broken.t.size).toBe(0);
    expect(broken.hooks).toEqual(["first", "last"]);
  });

  it("reports a failing hook and still delivers the decision", async () => {
    const warnings: string[] = [];
    const { t } = table({ onLastResolved: () => { throw new Error("session gone"); }, warn: (m) => warnings.push(m) });
    const p = t.request(init(), { signal: new AbortController().signal });
    t.respond("req-1", { type: "accept" });
    await expect(p).resolves.toEqual({ type: "accept" });
    expect(warnings).toEqual(["onLastResolved failed: session gone"]);
  });
});

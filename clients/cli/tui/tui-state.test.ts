import { describe, expect, it } from "vitest";
import type { ThreadEvent } from "../../../services/agent-server/thread/thread-event.js";
import { COMMAND_TURN, DECLINED_TURN, FAILED_TURN, INTERRUPTED_TURN, PLAN_TURN, USAGE } from "../../../test/support/recorded-thread-events.js";
import { INITIAL_TUI_STATE, MAX_COMMAND_OUTPUT, MAX_ENTRIES, type TuiAction, reduce, reduceAll } from "./tui-state.js";

const events = (list: ThreadEvent[], at = 1000): TuiAction[] => list.map((event, i) => ({ type: "event", event, at: at + i }));

describe("reduce", () => {
  it("streams a turn: text and output grow live, then everything settles in order", () => {
    const actions = events(COMMAND_TURN);
    // Mid-turn: the command runs, its streamed output shows, the spinner says so.
    const mid = reduceAll(actions.slice(0, 10));
    expect(mid.turn).toEqual({ turnId: "turn-1", startedAt: 1001, phase: "command" });
    expect(mid.live).toEqual([expect.objectContaining({ kind: "command", command: "make", output: "cc -o app\n", done: false })]);
    expect(mid.finished.map((e) => e.kind)).toEqual(["user", "reasoning"]);
    const end = reduceAll(actions);
    expect(end.turn).toBeUndefined();
    expect(end.live).toEqual([]);
    expect(end.finished.map((e) => e.kind)).toEqual(["user", "reasoning", "command", "agent"]);
    expect(end.finished[3]).toMatchObject({ text: "The build passes.", done: true });
    expect(end.finished[2]).toMatchObject({ exitCode: 0, output: "cc -o app\nok\n", durationMs: 812 });
    expect(end.usage).toEqual(USAGE);
  });

  it("keeps the agent's text growing delta by delta while it streams", () => {
    const state = reduceAll(events(COMMAND_TURN.slice(0, 14)));
    expect(state.live.at(-1)).toMatchObject({ kind: "agent", text: "The build ", done: false });
    expect(state.turn?.phase).toBe("responding");
  });

  it("keeps the plan apart, and the files changed for /diff", () => {
    const state = reduceAll(events(PLAN_TURN));
    expect(state.plan?.steps).toEqual([{ step: "read", status: "completed" }, { step: "patch", status: "completed" }]);
    expect(Object.keys(state.changes)).toEqual(["src/a.ts"]);
    expect(state.finished.filter((e) => e.kind === "notice").map((e) => (e as { text: string }).text)).toEqual([
      "model: HTTP 429; retrying (1/5)",
      "AGENTS.md is larger than 32 KiB: cut",
    ]);
  });

  it("tracks approval requests until they are answered", () => {
    const [started, completed] = [DECLINED_TURN[1]!, DECLINED_TURN[2]!];
    const waiting = reduceAll(events([DECLINED_TURN[0]!, started]));
    expect(waiting.pending.map((r) => r.requestId)).toEqual(["req-1"]);
    expect(waiting.turn?.phase).toBe("approval");
    expect(reduce(waiting, { type: "answered", requestId: "req-1" }).pending).toEqual([]);
    expect(reduceAll(events([completed]), waiting).pending).toEqual([]);
  });

  it("closes what a failed or interrupted turn left open, and says so", () => {
    const failed = reduceAll(events(FAILED_TURN));
    expect(failed.live).toEqual([]);
    expect(failed.finished.find((e) => e.kind === "command")).toMatchObject({ status: "interrupted", done: true });
    expect(failed.finished.at(-1)).toMatchObject({ kind: "notice", tone: "error", text: expect.stringMatching(/^turn failed: the model server/) as unknown });
    const interrupted = reduceAll(events(INTERRUPTED_TURN));
    expect(interrupted.finished.map((e) => e.kind)).toEqual(["agent", "notice"]);
    expect(interrupted.turn).toBeUndefined();
  });

  it("drops a partial answer when the model request is retried", () => {
    const partial = reduceAll(events(INTERRUPTED_TURN.slice(0, 3)));
    expect(partial.live[0]).toMatchObject({ kind: "agent", text: "Let me" });
    const retried = reduce(partial, { type: "event", at: 5, event: { type: "model.retrying", turnId: "turn-1", attempt: 1, maxAttempts: 3, delayMs: 10, reason: "dropped stream" } });
    expect(retried.live.some((e) => e.kind === "agent")).toBe(false);
  });

  it("bounds command output and the entries it keeps", () => {
    let state = reduceAll(events(COMMAND_TURN.slice(0, 8)));
    for (let i = 0; i < 40; i++) state = reduce(state, { type: "event", at: 0, event: { type: "item.delta", turnId: "turn-1", itemId: "c1", kind: "output", delta: "x".repeat(8192) } });
    expect((state.live[0] as { output: string }).output.length).toBe(MAX_COMMAND_OUTPUT);
    let noisy = INITIAL_TUI_STATE;
    for (let i = 0; i < MAX_ENTRIES * 3; i++) noisy = reduce(noisy, { type: "notice", text: `n${i}` });
    expect(noisy.finished.length).toBeLessThanOrEqual(MAX_ENTRIES);
    expect(noisy.finishedEpoch).toBeGreaterThan(0);
  });

  it("starts over on reset but keeps what was printed", () => {
    const done = reduceAll(events(COMMAND_TURN));
    const fresh = reduce(done, { type: "reset" });
    expect(fresh.thread).toBeUndefined();
    expect(fresh.usage).toEqual(INITIAL_TUI_STATE.usage);
    expect(fresh.finished).toBe(done.finished);
  });

  it("takes a settings change (/approvals MODE, /model NAME) for its thread mid-turn, and ignores another thread's", () => {
    const started = COMMAND_TURN.find((e) => e.type === "thread.started");
    if (started?.type !== "thread.started") throw new Error("the recorded turn opens with thread.started");
    const mid = reduceAll(events(COMMAND_TURN.slice(0, 10)));
    const changed = reduce(mid, { type: "settings", thread: { ...started.thread, approvalPolicy: "never", model: "gpt-next" } });
    expect(changed.thread).toMatchObject({ approvalPolicy: "never", model: "gpt-next" });
    // The running turn and its entries are untouched.
    expect(changed.turn).toEqual(mid.turn);
    expect(changed.live).toBe(mid.live);
    expect(reduce(changed, { type: "settings", thread: { ...started.thread, threadId: "other", model: "x" } })).toBe(changed);
  });

  it("shows settings another client changed (thread.settings_updated) in the status line, and ignores another thread's", () => {
    const started = COMMAND_TURN.find((e) => e.type === "thread.started");
    if (started?.type !== "thread.started") throw new Error("the recorded turn opens with thread.started");
    const mid = reduceAll(events(COMMAND_TURN.slice(0, 10)));
    const thread = { ...started.thread, sandbox: "read-only" as const, model: "gpt-other" };
    const changed = reduce(mid, { type: "event", event: { type: "thread.settings_updated", thread, writableRoots: [] }, at: 2000 });
    expect(changed.thread).toEqual(thread);
    expect(changed.live).toBe(mid.live);
    expect(reduce(changed, { type: "event", event: { type: "thread.settings_updated", thread: { ...thread, threadId: "other" }, writableRoots: [] }, at: 2001 })).toBe(changed);
  });
});

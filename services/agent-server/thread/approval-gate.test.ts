// The approval gate on the thread's one pending table (policy/pending-approvals.ts): the
// request is parked before its item is published, so a controller answering the instant it
// sees the item (while the elicitation RPC is still in flight) finds it; answers, aborts and
// close leave the table empty.
import { describe, expect, it } from "vitest";
import type { SessionOps } from "../../../clients/environment/environment.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { ProposedAction } from "../policy/approval-types.js";
import { ApprovalGate } from "./approval-gate.js";
import { basicThreadPolicy } from "./basic-thread-policy.js";
import { ItemTracker } from "./item-tracker.js";
import type { ThreadEvent } from "./thread-event.js";

const ACTION: ProposedAction = { kind: "command", commandLine: "rm x", argv: ["rm", "x"], cwd: "/w", escalated: true };

function setup(onEvent: (e: ThreadEvent, gate: ApprovalGate) => void = () => undefined) {
  let releaseElicitation!: () => void;
  const elicitation = new Promise<void>((r) => (releaseElicitation = r));
  const session = {
    // The elicitation RPC is slow: the item is out long before it returns.
    incrementElicitation: async () => {
      await elicitation;
      return 1;
    },
    decrementElicitation: async () => 0,
  } as unknown as SessionOps;
  let n = 0;
  const events: ThreadEvent[] = [];
  const gate: ApprovalGate = new ApprovalGate({
    policy: basicThreadPolicy(),
    context: () => ({ sandbox: "workspace-write", approvalPolicy: "on-request", cwd: "/w", writableRoots: ["/w"] }),
    hasController: () => true,
    session,
    newId: (p) => `${p}_${++n}`,
    warn: () => undefined,
  });
  const items = new ItemTracker("t1", (e) => {
    events.push(e);
    onEvent(e, gate);
  }, () => undefined);
  const abort = new AbortController();
  const call = { threadId: "th", turnId: "t1", callId: "c1", items, signal: abort.signal };
  return { gate, call, events, abort, releaseElicitation };
}

describe("ApprovalGate", () => {
  it("a controller that answers as soon as the item starts finds the request parked", async () => {
    const t = setup((e, gate) => {
      if (e.type === "item.started" && e.item.type === "approval") gate.respond(e.item.id, { type: "accept" });
    });
    const result = t.gate.authorize(ACTION, t.call);
    t.releaseElicitation();
    expect(await result).toMatchObject({ allowed: true, unsandboxed: true });
    expect(t.gate.listPending()).toEqual([]);
    expect(t.events.at(-1)).toMatchObject({ type: "item.completed", item: { type: "approval", decision: { type: "accept" }, decidedBy: "user" } });
    // The table remembers it: a second answer is told apart from a wrong id.
    expect(() => t.gate.respond("approval_1", { type: "decline" })).toThrow(expect.objectContaining({ code: ErrorCode.FailedPrecondition }));
    expect(() => t.gate.respond("nope", { type: "decline" })).toThrow(expect.objectContaining({ code: ErrorCode.NotFound }));
  });

  it("the turn's abort and the thread's close end what waits, marked cancelled by the server", async () => {
    const t = setup();
    t.releaseElicitation();
    const aborted = t.gate.authorize(ACTION, t.call);
    expect(t.gate.listPending()).toHaveLength(1);
    t.abort.abort(new TetherError(ErrorCode.Cancelled, "interrupted"));
    await expect(aborted).rejects.toMatchObject({ code: ErrorCode.Cancelled });
    expect(t.events.at(-1)).toMatchObject({ type: "item.completed", item: { decision: { type: "cancel" }, decidedBy: "server" } });

    const u = setup();
    u.releaseElicitation();
    const waiting = u.gate.authorize(ACTION, u.call);
    u.gate.close();
    await expect(waiting).rejects.toMatchObject({ code: ErrorCode.Cancelled });
    expect(u.gate.listPending()).toEqual([]);
  });
});

// Where a running process's question is asked (RunningTurn.processCall): a zsh-fork escalation
// or network request names its process, which may belong to an earlier call of this turn or
// to an earlier turn; it is filed under the call that started it, naming its command.
import { describe, expect, it } from "vitest";
import type { SessionOps } from "../../../clients/environment/environment.js";
import type { ApprovalRequest } from "../policy/approval-types.js";
import { ApprovalGate } from "./approval-gate.js";
import { basicThreadPolicy } from "./basic-thread-policy.js";
import { ItemTracker } from "./item-tracker.js";
import { RunningTurn } from "./running-turn.js";
import type { ThreadEvent } from "./thread-event.js";

function setup() {
  const events: ThreadEvent[] = [];
  const session = { incrementElicitation: async () => 1, decrementElicitation: async () => 0 } as unknown as SessionOps;
  let n = 0;
  const gate = new ApprovalGate({
    policy: basicThreadPolicy(),
    // untrusted: every escalation is asked.
    context: () => ({ sandbox: "workspace-write", approvalPolicy: "untrusted", cwd: "/w", writableRoots: ["/w"] }),
    hasController: () => true,
    session,
    newId: (p) => `${p}_${++n}`,
    warn: () => undefined,
  });
  const turn = new RunningTurn("th", "turn_2", new ItemTracker("turn_2", (e) => events.push(e), () => undefined));
  turn.callId = "c_latest";
  /** Asks an escalation as the exec layer would, and returns the request the controller saw (declined). */
  const ask = async (origin: Parameters<RunningTurn["processCall"]>[0]): Promise<ApprovalRequest> => {
    const decided = turn.decideEscalation(gate, { escalationId: "e", processId: "p", file: "/usr/bin/git", argv: ["git", "push"], cwd: "/w", env: {} } as never, undefined, origin);
    const [request] = gate.listPending();
    gate.respond(request!.requestId, { type: "decline" });
    expect(await decided).toMatchObject({ decision: "deny" });
    return request!;
  };
  return { turn, events, ask };
}

describe("RunningTurn.processCall", () => {
  it("files an escalation from a background process of this turn under the call that started it", async () => {
    const { ask } = setup();
    const request = await ask({ turnId: "turn_2", callId: "c_background", command: "sleep 1; git push" });
    expect(request).toMatchObject({ turnId: "turn_2", callId: "c_background", command: "sleep 1; git push" });
    expect(request.reason).not.toMatch(/earlier turn/);
  });

  it("asks about a process from an ended turn in this turn, under its own call, saying so", async () => {
    const { ask, events } = setup();
    const request = await ask({ turnId: "turn_1", callId: "c_old", command: "sleep 1; git push" });
    expect(request).toMatchObject({ turnId: "turn_2", callId: "c_old", command: "sleep 1; git push" });
    expect(request.reason).toMatch(/\(asked by `sleep 1; git push`, still running from an earlier turn\)$/);
    expect(events.filter((e) => e.type === "item.started").map((e) => e.turnId)).toEqual(["turn_2"]);
  });

  it("falls back to the turn's latest call for a process it does not know", async () => {
    const { ask } = setup();
    const request = await ask(undefined);
    expect(request.callId).toBe("c_latest");
    expect(request.command).toBeUndefined();
  });
});

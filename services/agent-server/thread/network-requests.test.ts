import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SessionOps } from "../../../clients/environment/environment.js";
import type { ApprovalDecision, ApprovalPolicy, SandboxMode } from "../policy/approval-types.js";
import { ExecPolicy } from "../policy/exec-policy.js";
import { RulesThreadPolicy } from "../policy/rules-thread-policy.js";
import { ApprovalGate } from "./approval-gate.js";
import { ItemTracker } from "./item-tracker.js";
import { NetworkRequestAnswers, answerNetworkRequest, type NetworkRequestTurn } from "./network-requests.js";
import type { ThreadEvent, ThreadItem } from "./thread-event.js";

const RULES = 'network_rule(host="allowed.test", decision="allow")\nnetwork_rule(host="denied.test", decision="deny", justification="not this one")\nnetwork_rule(host="ask.test", decision="prompt")\n';

describe("answerNetworkRequest", () => {
  let home: string;
  let events: ThreadEvent[];
  let elicitation: number;
  let approvalPolicy: ApprovalPolicy;
  let sandbox: SandboxMode;
  let cancelled: number;
  let gate: ApprovalGate;
  let turn: NetworkRequestTurn;
  let turnAbort: AbortController;

  beforeEach(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), "tether-net-"));
    events = [];
    elicitation = 0;
    cancelled = 0;
    approvalPolicy = "on-request";
    sandbox = "workspace-write";
    const session = {
      incrementElicitation: async () => ++elicitation,
      decrementElicitation: async () => --elicitation,
    } as Partial<SessionOps> as SessionOps; // only the elicitation counter is used by the gate
    const policy = RulesThreadPolicy.fromPolicy(ExecPolicy.parse(RULES, path.join(home, "rules", "team.rules")), { tetherHome: home });
    let n = 0;
    gate = new ApprovalGate({
      policy,
      context: () => ({ sandbox, approvalPolicy, cwd: "/w", writableRoots: ["/w"] }),
      hasController: () => true,
      session,
      newId: (prefix) => `${prefix}-${++n}`,
      warn: (message) => events.push({ type: "warning", message }),
    });
    turnAbort = new AbortController();
    turn = {
      threadId: "th",
      turnId: "tu",
      callId: "c1",
      items: new ItemTracker("tu", (e) => events.push(e), () => undefined),
      signal: turnAbort.signal,
      cancelTurn: () => cancelled++,
    };
  });
  afterEach(async () => {
    await rm(home, { recursive: true, force: true });
  });

  const req = (host: string, port = 443) => ({ host, port, protocol: "https" });
  const approvals = () => events.flatMap((e) => (e.type === "item.completed" && e.item.type === "approval" ? [e.item] : []));
  /** Answers the next approval the gate parks with `decision`. */
  async function answered(host: string, decision: ApprovalDecision, signal = new AbortController().signal) {
    const answer = answerNetworkRequest(gate, req(host), signal, turn);
    const [pending] = gate.listPending();
    expect(pending).toMatchObject({ action: { kind: "network", host, port: 443 }, promptKind: "sandbox_approval" });
    expect(pending!.availableDecisions).toEqual(["accept", "accept_for_session", "accept_with_rule", "decline", "cancel"]);
    gate.respond(pending!.requestId, decision);
    return answer;
  }

  it("network rules answer without asking: allow is allow_always, deny names the rule", async () => {
    await expect(answerNetworkRequest(gate, req("allowed.test"), new AbortController().signal, turn)).resolves.toEqual({ decision: "allow_always" });
    const denied = await answerNetworkRequest(gate, req("denied.test"), new AbortController().signal, turn);
    expect(denied).toMatchObject({ decision: "deny", reason: expect.stringMatching(/denied\.test:443 is denied by a network rule: not this one/) });
    expect(events).toEqual([]);
  });

  it("an unknown host is asked on the thread's stream: accept is allow_once, for the session allow_always and not asked again", async () => {
    await expect(answered("new.test", { type: "accept" })).resolves.toEqual({ decision: "allow_once" });
    await expect(answered("new.test", { type: "accept_for_session" })).resolves.toEqual({ decision: "allow_always" });
    await expect(answerNetworkRequest(gate, req("new.test", 80), new AbortController().signal, turn)).resolves.toEqual({ decision: "allow_always" });
    expect(approvals().map((a) => a.type === "approval" && [a.request.callId, a.decision?.type, a.decidedBy])).toEqual([
      ["c1", "accept", "user"],
      ["c1", "accept_for_session", "user"],
    ]);
    expect(elicitation).toBe(0);
  });

  it("decline and cancel deny; cancel also ends the turn", async () => {
    await expect(answered("no.test", { type: "decline", reason: "not now" })).resolves.toEqual({ decision: "deny", reason: "not now" });
    await expect(answered("no.test", { type: "cancel" })).resolves.toMatchObject({ decision: "deny" });
    expect(cancelled).toBe(1);
  });

  it("accept with a rule appends network_rule(host=…) to default.rules and answers allow_always", async () => {
    await expect(answered("rule.test", { type: "accept_with_rule" })).resolves.toEqual({ decision: "allow_always" });
    expect(await readFile(path.join(home, "rules", "default.rules"), "utf8")).toBe('network_rule(host="rule.test", protocol="https", decision="allow")\n');
  });

  it("approval policy never, and a granular reject of sandbox prompts, deny without asking", async () => {
    approvalPolicy = "never";
    await expect(answerNetworkRequest(gate, req("x.test"), new AbortController().signal, turn)).resolves.toMatchObject({ decision: "deny", reason: expect.stringMatching(/approval policy is "never"/) });
    approvalPolicy = { mode: "on-request", reject: ["sandbox_approval"] };
    await expect(answerNetworkRequest(gate, req("x.test"), new AbortController().signal, turn)).resolves.toMatchObject({ decision: "deny", reason: expect.stringMatching(/rejects sandbox_approval/) });
    approvalPolicy = { mode: "on-request", reject: ["rules"] };
    await expect(answerNetworkRequest(gate, req("ask.test"), new AbortController().signal, turn)).resolves.toMatchObject({ decision: "deny", reason: expect.stringMatching(/rejects rules/) });
    expect(events).toEqual([]);
  });

  it("closes the approval when the exec server decided already (its signal aborts)", async () => {
    const server = new AbortController();
    const answer = answerNetworkRequest(gate, req("slow.test"), server.signal, turn);
    expect(gate.listPending()).toHaveLength(1);
    server.abort(new Error("the exec server already decided deny"));
    await expect(answer).resolves.toMatchObject({ decision: "deny", reason: expect.stringMatching(/already decided deny/) });
    expect(gate.listPending()).toEqual([]);
    expect(approvals()).toMatchObject([{ decision: { type: "cancel" }, decidedBy: "server" } satisfies Partial<ThreadItem>]);
    expect(elicitation).toBe(0);
  });

  it("connections to one host:port asked about at once share one question and its answer", async () => {
    const answers = new NetworkRequestAnswers(gate);
    const first = answers.answer(req("many.test"), new AbortController().signal, turn);
    const second = answers.answer(req("many.test"), new AbortController().signal, turn);
    const other = answers.answer(req("other.test"), new AbortController().signal, turn);
    expect(gate.listPending().map((p) => p.action)).toMatchObject([{ host: "many.test" }, { host: "other.test" }]);
    gate.respond(gate.listPending()[0]!.requestId, { type: "accept" });
    await expect(Promise.all([first, second])).resolves.toEqual([{ decision: "allow_once" }, { decision: "allow_once" }]);
    gate.respond(gate.listPending()[0]!.requestId, { type: "decline" });
    await expect(other).resolves.toMatchObject({ decision: "deny" });
    // Answered: the next connection is a new question.
    void answers.answer(req("many.test"), new AbortController().signal, turn);
    expect(gate.listPending()).toHaveLength(1);
    gate.respond(gate.listPending()[0]!.requestId, { type: "decline" });
  });

  it("a shared question stays open while one of its connections is still waiting, and closes when none is", async () => {
    const answers = new NetworkRequestAnswers(gate);
    const a = new AbortController();
    const b = new AbortController();
    const first = answers.answer(req("shared.test"), a.signal, turn);
    const second = answers.answer(req("shared.test"), b.signal, turn);
    a.abort(new Error("the exec server already decided deny for the first"));
    await expect(first).resolves.toMatchObject({ decision: "deny", reason: expect.stringMatching(/for the first/) });
    expect(gate.listPending()).toHaveLength(1);
    b.abort(new Error("the exec server already decided deny for the second"));
    await expect(second).resolves.toMatchObject({ decision: "deny" });
    await expect.poll(() => approvals().length).toBe(1);
    expect(gate.listPending()).toEqual([]);
    expect(approvals()).toMatchObject([{ decidedBy: "server" }]);
  });

  it("a host allowed only because the thread is full-access is allow_once: the exec session must not keep it past a settings change", async () => {
    sandbox = "full-access";
    for (const turnOrNone of [turn, undefined]) {
      await expect(answerNetworkRequest(gate, req("any.test"), new AbortController().signal, turnOrNone)).resolves.toEqual({ decision: "allow_once" });
    }
    // Back to workspace-write (UpdateThreadSettings): the host is asked about again.
    sandbox = "workspace-write";
    await expect(answered("any.test", { type: "decline" })).resolves.toMatchObject({ decision: "deny" });
    expect(events.filter((e) => e.type === "item.started")).toHaveLength(1);
  });

  it("between turns, rules and session grants answer and anything else is denied unasked", async () => {
    await expect(answerNetworkRequest(gate, req("allowed.test"), new AbortController().signal, undefined)).resolves.toEqual({ decision: "allow_always" });
    await expect(answerNetworkRequest(gate, req("new.test"), new AbortController().signal, undefined)).resolves.toMatchObject({ decision: "deny", reason: expect.stringMatching(/no turn of this thread is running/) });
    expect(events).toEqual([]);
  });
});

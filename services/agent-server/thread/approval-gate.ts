// Decides whether a tool's action may go ahead (rule 19): policy's assessment first; a needed
// approval becomes a record (an approval item on the controller's stream, parked in the
// thread's PendingApprovals table) that waits for `respond` or the turn's signal. The request
// is parked before its item is published (the table parks synchronously inside `request`),
// so a controller that answers at once always finds it. While it waits the exec
// session's elicitation counter is raised, so command stopwatches pause. With no controller
// attached there is no one to ask: the answer is decline.
import type { SessionOps } from "../../../clients/environment/environment.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type {
  ApprovalDecision,
  ApprovalDecisionType,
  ApprovalRequest,
  Assessment,
  Authorization,
  PrefixRuleProposal,
  ProposedAction,
} from "../policy/approval-types.js";
import { PendingApprovals } from "../policy/pending-approvals.js";
import type { ItemTracker } from "./item-tracker.js";
import type { PolicyContext, ThreadPolicy } from "./thread-services.js";

type DecidedBy = "user" | "policy" | "timeout" | "server";

export interface ApprovalCall {
  threadId: string;
  turnId: string;
  callId: string;
  items: ItemTracker;
  signal: AbortSignal;
  /** A request from a running process (network, escalation): the command that process runs. */
  command?: string;
  /** That process was started in an earlier turn: the request is shown in this one, saying so. */
  fromEarlierTurn?: boolean;
}

export interface ApprovalGateOptions {
  policy: ThreadPolicy;
  context: () => PolicyContext;
  hasController: () => boolean;
  session: SessionOps;
  newId: (prefix: string) => string;
  warn: (message: string) => void;
  /** An action was granted for the session (recorded, so a resume into the same exec session keeps it). */
  granted?: (action: ProposedAction) => void;
}

function availableDecisions(action: ProposedAction, hasRule: boolean, networkRules: boolean): ApprovalDecisionType[] {
  const all: ApprovalDecisionType[] = ["accept", "accept_for_session", "accept_with_rule", "decline", "cancel"];
  // A network request's rule is implied by its host: network_rule(host=…, decision="allow").
  const ruleFits = action.kind === "network" ? networkRules : hasRule && (action.kind === "command" || action.kind === "escalation" || action.kind === "retry_unsandboxed");
  return all.filter((d) => d !== "accept_with_rule" || ruleFits);
}

/** Whether an accepted action runs outside the sandbox. */
function unsandboxedWhenAccepted(action: ProposedAction): boolean {
  return action.kind === "retry_unsandboxed" || action.kind === "escalation" || (action.kind === "command" && action.escalated);
}

export class ApprovalGate {
  readonly #o: ApprovalGateOptions;
  /**
   * The gate decides "no controller" and the granular rejects itself (before parking, so the
   * item shows the policy's reason); the table holds what waits for a person. Items are
   * published by the gate, per call, right after `request` has parked.
   */
  readonly #pending: PendingApprovals;

  constructor(options: ApprovalGateOptions) {
    this.#o = options;
    this.#pending = new PendingApprovals({ onRequest: () => undefined, warn: options.warn });
  }

  /** Policy's verdict alone, for when no one could be asked (no turn is running). */
  assess(action: ProposedAction): Assessment {
    return this.#o.policy.assess(action, this.#o.context());
  }

  listPending(): ApprovalRequest[] {
    return this.#pending.listPending();
  }

  respond(requestId: string, decision: ApprovalDecision): void {
    this.#pending.respond(requestId, decision);
  }

  /** Cancels whatever still waits and refuses new requests (the thread is closing). */
  close(): void {
    this.#pending.close();
  }

  async authorize(action: ProposedAction, call: ApprovalCall): Promise<Authorization> {
    const ctx = this.#o.context();
    const assessment = this.#o.policy.assess(action, ctx);
    if (assessment.type === "skip") return { allowed: true, unsandboxed: assessment.unsandboxed, lasting: assessment.lasting ?? true };
    if (assessment.type === "forbidden") return { allowed: false, reason: assessment.reason, by: "policy", cancelTurn: false };

    const request: ApprovalRequest = {
      requestId: this.#o.newId("approval"),
      threadId: call.threadId,
      turnId: call.turnId,
      callId: call.callId,
      action,
      // Clients that do not show `command` still learn which process asks.
      reason: call.fromEarlierTurn && call.command !== undefined ? `${assessment.reason} (asked by \`${call.command}\`, still running from an earlier turn)` : assessment.reason,
      promptKind: assessment.promptKind,
      ...(assessment.proposedRule ? { proposedRule: assessment.proposedRule } : {}),
      availableDecisions: availableDecisions(action, assessment.proposedRule !== undefined, this.#o.policy.addNetworkRule !== undefined),
      ...(call.command !== undefined ? { command: call.command } : {}),
    };
    const item = { type: "approval" as const, id: request.requestId, request };
    const finish = (decision: ApprovalDecision, decidedBy: DecidedBy) => call.items.completed({ ...item, decision, decidedBy });
    const policy = ctx.approvalPolicy;
    const autoDecline =
      typeof policy === "object" && policy.reject.includes(assessment.promptKind)
        ? `the approval policy declines ${assessment.promptKind} prompts: ${assessment.reason}`
        : !this.#o.hasController()
          ? `no client is attached to answer approvals (${assessment.reason})`
          : undefined;
    // Parked before anyone can see the request: a fast answer must find it.
    const decided = autoDecline === undefined ? this.#pending.request(request, { signal: call.signal }) : undefined;
    // Awaited below, after the elicitation call; an abort meanwhile must not count as unhandled.
    decided?.catch(() => undefined);
    call.items.started(item);
    if (autoDecline !== undefined || !decided) {
      finish({ type: "decline", reason: autoDecline }, "policy");
      return { allowed: false, reason: autoDecline ?? "declined", by: "policy", cancelTurn: false };
    }
    // Policy knows whether accepting means leaving the sandbox (e.g. an untrusted-mode zsh-fork
    // exec runs inside it once approved); older policies leave it to the action's kind.
    const unsandboxed = assessment.unsandboxedOnAccept ?? unsandboxedWhenAccepted(action);
    const decision = await this.#withElicitation(decided).catch((err: unknown) => {
      finish({ type: "cancel" }, "server");
      throw err;
    });
    finish(decision, "user");
    switch (decision.type) {
      case "accept":
        return { allowed: true, unsandboxed, lasting: false };
      case "accept_for_session":
        this.#grant(action);
        return { allowed: true, unsandboxed, lasting: true };
      case "accept_with_rule":
        try {
          await this.#addRule(action, decision.rule ?? request.proposedRule);
        } catch (err) {
          this.#o.warn(`the accepted rule was not saved: ${TetherError.from(err).message}`);
        }
        return { allowed: true, unsandboxed, lasting: true };
      case "decline":
        return { allowed: false, reason: decision.reason ?? "the user declined", by: "user", cancelTurn: false };
      case "cancel":
        return { allowed: false, reason: "the user cancelled the turn", by: "user", cancelTurn: true };
    }
  }

  async #addRule(action: ProposedAction, rule: PrefixRuleProposal | undefined): Promise<void> {
    const policy = this.#o.policy;
    if (action.kind === "network") {
      // Granted first: the session keeps the host even if the rule file cannot be written.
      this.#grant(action);
      await policy.addNetworkRule?.({ host: action.host, decision: "allow", ...(action.protocol !== undefined ? { protocol: action.protocol } : {}) });
      return;
    }
    if (rule === undefined) throw new TetherError(ErrorCode.InvalidArgument, "accept_with_rule without a rule, and the request proposed none");
    await policy.addRule(rule);
  }

  #grant(action: ProposedAction): void {
    this.#o.policy.grantForSession(action);
    this.#o.granted?.(action);
  }

  /** Waits for the decision with the session's elicitation counter raised (command stopwatches pause). */
  async #withElicitation(decided: Promise<ApprovalDecision>): Promise<ApprovalDecision> {
    const session = this.#o.session;
    let raised = false;
    try {
      await session.incrementElicitation();
      raised = true;
    } catch (err) {
      this.#o.warn(`could not pause command timers while asking: ${TetherError.from(err).message}`);
    }
    try {
      return await decided;
    } finally {
      if (raised) {
        await session.decrementElicitation().catch((err: unknown) => this.#o.warn(`could not resume command timers: ${TetherError.from(err).message}`));
      }
    }
  }
}

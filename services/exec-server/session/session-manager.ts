// Sessions by id: open/resume, detached expiry (which kills the session's processes),
// the elicitation counter, and escalation requests routed to the session's controller.
import { create } from "@bufbuild/protobuf";
import { randomUUID } from "node:crypto";
import type { SandboxPolicy } from "../../../gen/tether/exec/v1/sandbox_pb.js";
import { Decision, type EventsResponse, EventsResponseSchema, NetworkDecision } from "../../../gen/tether/exec/v1/session_pb.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { DecisionResult, EscalationDecision, ExecIntercept } from "../escalation/escalation-types.js";
import { checkId, checkLabels } from "../process/process-spec.js";
import { checkSandboxLimits } from "../sandbox/sandbox-policy.js";
import type { ProcessManager } from "../process/process-manager.js";
import { type Clock, systemClock } from "../process/stopwatch.js";
import {
  MAX_ALWAYS_ALLOWED_HOSTS,
  type NetworkAnswer,
  type NetworkAsk,
  type NetworkVerdict,
  type PendingEscalation,
  type PendingNetwork,
  Session,
  Subscriber,
  sessionNotFound,
} from "./session.js";
import type { SessionPolicySource } from "./session-policy-source.js";

export interface SessionManagerOptions {
  processes: ProcessManager;
  defaultDetachedTtlMs?: number;
  maxDetachedTtlMs?: number;
  /** How long an escalation or network request waits for a decision before it is denied (a session may set its own). */
  decisionTimeoutMs?: number;
  /** The longest decision timeout a session may ask for. */
  maxDecisionTimeoutMs?: number;
  newId?: () => string;
  /** Drives TTL expiry and decision timeouts (tests pass a manual one). */
  clock?: Clock;
}

const NETWORK_DECISIONS: Record<number, NetworkVerdict | undefined> = {
  [NetworkDecision.ALLOW_ONCE]: "allow_once",
  [NetworkDecision.ALLOW_ALWAYS]: "allow_always",
  [NetworkDecision.DENY]: "deny",
};

const DECISIONS: Record<number, EscalationDecision | undefined> = {
  [Decision.RUN]: "run",
  [Decision.ESCALATE]: "escalate",
  [Decision.DENY]: "deny",
};

export class SessionManager implements SessionPolicySource, AsyncDisposable {
  readonly defaultDetachedTtlMs: number;
  readonly #maxTtlMs: number;
  readonly decisionTimeoutMs: number;
  readonly #maxDecisionTimeoutMs: number;
  readonly #processes: ProcessManager;
  readonly #newId: () => string;
  readonly #clock: Clock;
  readonly #sessions = new Map<string, Session>();

  constructor(options: SessionManagerOptions) {
    this.#processes = options.processes;
    this.defaultDetachedTtlMs = options.defaultDetachedTtlMs ?? 5 * 60_000;
    this.#maxTtlMs = options.maxDetachedTtlMs ?? 24 * 3600_000;
    this.decisionTimeoutMs = options.decisionTimeoutMs ?? 10 * 60_000;
    this.#maxDecisionTimeoutMs = options.maxDecisionTimeoutMs ?? 24 * 3600_000;
    this.#newId = options.newId ?? (() => randomUUID());
    this.#clock = options.clock ?? systemClock;
  }

  open(
    sessionId: string,
    ttlMs: number,
    labels: Record<string, string> = {},
    defaultSandbox?: SandboxPolicy,
    decisionTimeoutMs = 0,
  ): { session: Session; resumed: boolean } {
    if (sessionId !== "") checkId("session_id", sessionId);
    checkLabels("labels", labels);
    checkSandboxLimits(defaultSandbox, "default_sandbox");
    const existing = sessionId === "" ? undefined : this.#sessions.get(sessionId);
    if (existing) {
      this.#touch(existing);
      return { session: existing, resumed: true };
    }
    if (ttlMs > this.#maxTtlMs) {
      throw new TetherError(ErrorCode.InvalidArgument, `detached_ttl_ms ${ttlMs} exceeds the server's maximum ${this.#maxTtlMs}`);
    }
    if (decisionTimeoutMs > this.#maxDecisionTimeoutMs) {
      throw new TetherError(ErrorCode.InvalidArgument, `decision_timeout_ms ${decisionTimeoutMs} exceeds the server's maximum ${this.#maxDecisionTimeoutMs}`);
    }
    const session = new Session(sessionId || this.#newId(), ttlMs || this.defaultDetachedTtlMs, labels, defaultSandbox, decisionTimeoutMs || this.decisionTimeoutMs);
    this.#sessions.set(session.id, session);
    this.#touch(session);
    return { session, resumed: false };
  }

  get(sessionId: string): Session {
    const session = this.#sessions.get(sessionId);
    if (!session) throw sessionNotFound(sessionId);
    return session;
  }

  has(sessionId: string): boolean {
    return this.#sessions.has(sessionId);
  }

  sandboxOf(sessionId: string): SandboxPolicy | undefined {
    return this.#sessions.get(sessionId)?.defaultSandbox;
  }

  /** A stream of session events; the session counts as attached while it is open. */
  async *events(sessionId: string, controller: boolean, signal: AbortSignal): AsyncIterable<EventsResponse> {
    const session = this.get(sessionId);
    const sub = new Subscriber(controller);
    session.subscribers.add(sub);
    if (controller) {
      session.controller?.close();
      session.controller = sub;
    }
    this.#clock.clearTimeout(session.expiryTimer);
    sub.push(session.ready());
    if (controller) {
      for (const p of session.pending.values()) sub.push(session.escalationEvent(p));
      for (const p of session.pendingNetwork.values()) sub.push(session.networkEvent(p));
    }
    try {
      yield* sub.events(signal);
    } finally {
      session.subscribers.delete(sub);
      if (session.controller === sub) session.controller = undefined;
      this.#touch(session);
    }
  }

  async close(sessionId: string, reason = "the session was closed"): Promise<number> {
    const session = this.get(sessionId);
    this.#sessions.delete(sessionId);
    this.#clock.clearTimeout(session.expiryTimer);
    for (const p of session.pending.values()) p.resolve({ decision: "deny", reason });
    for (const p of session.pendingNetwork.values()) p.resolve({ decision: "deny", reason });
    for (const s of session.subscribers) s.close();
    return this.#processes.closeSession(sessionId, reason);
  }

  incrementElicitation(sessionId: string): number {
    const session = this.get(sessionId);
    session.elicitationCount++;
    this.#changed(session);
    return session.elicitationCount;
  }

  decrementElicitation(sessionId: string): number {
    const session = this.get(sessionId);
    if (session.elicitationCount === 0) {
      throw new TetherError(
        ErrorCode.FailedPrecondition,
        `the elicitation count of session ${sessionId} is already 0: every decrement must follow an increment`,
      );
    }
    session.elicitationCount--;
    this.#changed(session);
    return session.elicitationCount;
  }

  decide(sessionId: string, escalationId: string, decision: Decision, reason: string): void {
    const session = this.get(sessionId);
    const pending = session.pending.get(escalationId);
    if (!pending) {
      throw new TetherError(ErrorCode.NotFound, `no pending escalation ${JSON.stringify(escalationId)} in session ${sessionId}: it was decided or timed out`);
    }
    const answer = DECISIONS[decision];
    if (!answer) throw new TetherError(ErrorCode.InvalidArgument, "decision must be RUN, ESCALATE or DENY");
    pending.resolve({ decision: answer, reason: reason || undefined });
  }

  /** Asks the session's controller about a command a zsh-fork shell wants to exec. */
  requestDecision(sessionId: string, request: ExecIntercept, signal: AbortSignal): Promise<DecisionResult> {
    const session = this.#sessions.get(sessionId);
    if (!session) return Promise.resolve({ decision: "deny", reason: "the process has no session to ask" });
    if (!session.controller) {
      return Promise.resolve({ decision: "deny", reason: `no controller is attached to session ${sessionId}` });
    }
    return new Promise<DecisionResult>((resolve) => {
      const id = this.#newId();
      const finish = (result: DecisionResult) => {
        if (!session.pending.delete(id)) return;
        this.#clock.clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        session.broadcast(
          create(EventsResponseSchema, {
            event: {
              case: "escalationResolved",
              value: { escalationId: id, decision: decisionCode(result.decision), reason: result.reason ?? "" },
            },
          }),
        );
        this.#changed(session);
        resolve(result);
      };
      const onAbort = () => finish({ decision: "deny", reason: "the request was cancelled" });
      const timer = this.#clock.setTimeout(
        () => finish({ decision: "deny", reason: `no decision within ${session.decisionTimeoutMs} ms` }),
        session.decisionTimeoutMs,
      );
      signal.addEventListener("abort", onAbort, { once: true });
      const pending: PendingEscalation = { id, request, resolve: finish };
      session.pending.set(id, pending);
      this.#changed(session);
      session.controller!.push(session.escalationEvent(pending));
    });
  }

  /** Replaces the session's default sandbox for later Starts and file calls (already validated by the caller). */
  setSandbox(sessionId: string, policy: SandboxPolicy | undefined): void {
    checkSandboxLimits(policy, "default_sandbox");
    this.get(sessionId).defaultSandbox = policy;
  }

  decideNetwork(sessionId: string, requestId: string, decision: NetworkDecision, reason: string): void {
    const session = this.get(sessionId);
    const pending = session.pendingNetwork.get(requestId);
    if (!pending) {
      throw new TetherError(ErrorCode.NotFound, `no pending network request ${JSON.stringify(requestId)} in session ${sessionId}: it was decided or timed out`);
    }
    const answer = NETWORK_DECISIONS[decision];
    if (!answer) throw new TetherError(ErrorCode.InvalidArgument, "decision must be ALLOW_ONCE, ALLOW_ALWAYS or DENY");
    pending.resolve({ decision: answer, reason: reason || undefined });
  }

  /**
   * Asks the session's controller about a host the process's proxy has no rule for. A host
   * the controller allowed for good is let through without asking; no controller, no answer
   * in time or a cancelled request is a denial.
   */
  requestNetworkDecision(sessionId: string, request: NetworkAsk, signal: AbortSignal): Promise<NetworkAnswer> {
    const session = this.#sessions.get(sessionId);
    if (!session) return Promise.resolve({ decision: "deny", reason: "the process has no session to ask" });
    const key = `${request.host}:${request.port}`;
    if (session.alwaysAllowed.has(key)) return Promise.resolve({ decision: "allow_once", reason: "allowed for the session" });
    if (!session.controller) return Promise.resolve({ decision: "deny", reason: `no controller is attached to session ${sessionId} to allow ${key}` });
    return new Promise<NetworkAnswer>((resolve) => {
      const id = this.#newId();
      const finish = (answer: NetworkAnswer) => {
        if (!session.pendingNetwork.delete(id)) return;
        this.#clock.clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        if (answer.decision === "allow_always" && session.alwaysAllowed.size < MAX_ALWAYS_ALLOWED_HOSTS) session.alwaysAllowed.add(key);
        session.broadcast(
          create(EventsResponseSchema, {
            event: { case: "networkResolved", value: { requestId: id, decision: networkCode(answer.decision), reason: answer.reason ?? "" } },
          }),
        );
        this.#changed(session);
        resolve(answer);
      };
      const onAbort = () => finish({ decision: "deny", reason: "the request was cancelled" });
      const timer = this.#clock.setTimeout(() => finish({ decision: "deny", reason: `no decision within ${session.decisionTimeoutMs} ms` }), session.decisionTimeoutMs);
      signal.addEventListener("abort", onAbort, { once: true });
      const pending: PendingNetwork = { id, request, resolve: finish };
      session.pendingNetwork.set(id, pending);
      this.#changed(session);
      session.controller!.push(session.networkEvent(pending));
    });
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.#sessions.keys()].map((id) => this.close(id, "the exec server shut down")));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.closeAll();
  }

  /** Restarts the detached countdown when nobody is attached. */
  #touch(session: Session): void {
    this.#clock.clearTimeout(session.expiryTimer);
    if (session.subscribers.size > 0) return;
    session.expiryTimer = this.#clock.setTimeout(() => {
      if (this.#sessions.get(session.id) !== session || session.subscribers.size > 0) return;
      void this.close(session.id, `session expired after ${session.detachedTtlMs} ms detached`).catch(() => {
        // Already closed concurrently: nothing left to do.
      });
    }, session.detachedTtlMs);
  }

  #changed(session: Session): void {
    this.#processes.setSessionPaused(session.id, session.paused);
    session.broadcast(
      create(EventsResponseSchema, { event: { case: "elicitation", value: { count: session.elicitationCount } } }),
    );
  }
}

function networkCode(d: NetworkVerdict): NetworkDecision {
  return d === "allow_once" ? NetworkDecision.ALLOW_ONCE : d === "allow_always" ? NetworkDecision.ALLOW_ALWAYS : NetworkDecision.DENY;
}

function decisionCode(d: EscalationDecision): Decision {
  return d === "run" ? Decision.RUN : d === "escalate" ? Decision.ESCALATE : Decision.DENY;
}

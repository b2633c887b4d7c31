// Sessions by id: open/resume, detached expiry (which kills the session's processes),
// the elicitation counter, and escalation requests routed to the session's controller.
import { create } from "@bufbuild/protobuf";
import { randomUUID } from "node:crypto";
import type { SandboxPolicy } from "../../../gen/tether/exec/v1/sandbox_pb.js";
import { Decision, type EventsResponse, EventsResponseSchema } from "../../../gen/tether/exec/v1/session_pb.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { DecisionResult, EscalationDecision, ExecIntercept } from "../escalation/escalation-types.js";
import { checkId, checkLabels } from "../process/process-spec.js";
import { checkSandboxLimits } from "../sandbox/sandbox-policy.js";
import type { ProcessManager } from "../process/process-manager.js";
import { type PendingEscalation, Session, Subscriber, sessionNotFound } from "./session.js";

export interface SessionManagerOptions {
  processes: ProcessManager;
  defaultDetachedTtlMs?: number;
  maxDetachedTtlMs?: number;
  /** How long an escalation waits for a decision before it is denied. */
  decisionTimeoutMs?: number;
  newId?: () => string;
}

const DECISIONS: Record<number, EscalationDecision | undefined> = {
  [Decision.RUN]: "run",
  [Decision.ESCALATE]: "escalate",
  [Decision.DENY]: "deny",
};

export class SessionManager implements AsyncDisposable {
  readonly defaultDetachedTtlMs: number;
  readonly #maxTtlMs: number;
  readonly #decisionTimeoutMs: number;
  readonly #processes: ProcessManager;
  readonly #newId: () => string;
  readonly #sessions = new Map<string, Session>();

  constructor(options: SessionManagerOptions) {
    this.#processes = options.processes;
    this.defaultDetachedTtlMs = options.defaultDetachedTtlMs ?? 5 * 60_000;
    this.#maxTtlMs = options.maxDetachedTtlMs ?? 24 * 3600_000;
    this.#decisionTimeoutMs = options.decisionTimeoutMs ?? 10 * 60_000;
    this.#newId = options.newId ?? (() => randomUUID());
  }

  open(
    sessionId: string,
    ttlMs: number,
    labels: Record<string, string> = {},
    defaultSandbox?: SandboxPolicy,
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
    const session = new Session(sessionId || this.#newId(), ttlMs || this.defaultDetachedTtlMs, labels, defaultSandbox);
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

  /** A stream of session events; the session counts as attached while it is open. */
  async *events(sessionId: string, controller: boolean, signal: AbortSignal): AsyncIterable<EventsResponse> {
    const session = this.get(sessionId);
    const sub = new Subscriber(controller);
    session.subscribers.add(sub);
    if (controller) {
      session.controller?.close();
      session.controller = sub;
    }
    clearTimeout(session.expiryTimer);
    sub.push(session.ready());
    if (controller) for (const p of session.pending.values()) sub.push(session.escalationEvent(p));
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
    clearTimeout(session.expiryTimer);
    for (const p of session.pending.values()) p.resolve({ decision: "deny", reason });
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
        clearTimeout(timer);
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
      const timer = setTimeout(
        () => finish({ decision: "deny", reason: `no decision within ${this.#decisionTimeoutMs} ms` }),
        this.#decisionTimeoutMs,
      );
      timer.unref();
      signal.addEventListener("abort", onAbort, { once: true });
      const pending: PendingEscalation = { id, request, resolve: finish };
      session.pending.set(id, pending);
      this.#changed(session);
      session.controller!.push(session.escalationEvent(pending));
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
    clearTimeout(session.expiryTimer);
    if (session.subscribers.size > 0) return;
    session.expiryTimer = setTimeout(() => {
      if (this.#sessions.get(session.id) !== session || session.subscribers.size > 0) return;
      void this.close(session.id, `session expired after ${session.detachedTtlMs} ms detached`).catch(() => {
        // Already closed concurrently: nothing left to do.
      });
    }, session.detachedTtlMs);
    session.expiryTimer.unref();
  }

  #changed(session: Session): void {
    this.#processes.setSessionPaused(session.id, session.paused);
    session.broadcast(
      create(EventsResponseSchema, { event: { case: "elicitation", value: { count: session.elicitationCount } } }),
    );
  }
}

function decisionCode(d: EscalationDecision): Decision {
  return d === "run" ? Decision.RUN : d === "escalate" ? Decision.ESCALATE : Decision.DENY;
}

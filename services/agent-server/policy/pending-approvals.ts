// The pending-approval table (STYLE rule 19): a needed approval is emitted as serializable
// data and parked here until `respond`, the turn's abort, an optional timeout, or close.
// With no controller attached there is no one to ask, so the answer is decline at once.
// onFirstPending/onLastResolved bracket "someone is being asked", so the core can raise
// and lower the exec session's elicitation counter (stopwatches pause meanwhile).
import { randomUuid } from "../../common/random-uuid.js";
import { cancelled, ErrorCode, TetherError } from "../../common/tether-error.js";
import type { ApprovalDecision, ApprovalRequest } from "./approval-types.js";

export interface ApprovalTimer {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export type ResolvedBy = "user" | "timeout" | "policy" | "abort";

export interface PendingApprovalsOptions {
  /** Delivers a new request to the controller (its event stream). */
  onRequest: (request: ApprovalRequest) => void;
  /** A request left the table: for the rollout and for closing prompts a client still shows. */
  onResolved?: (request: ApprovalRequest, decision: ApprovalDecision, by: ResolvedBy) => void;
  /** Whether a controller is attached to answer; without one requests are declined (default: attached). */
  hasController?: () => boolean;
  onFirstPending?: () => void;
  onLastResolved?: () => void;
  /** Declines a request nobody answered in this long (on `timer`); absent = wait for the turn. */
  timeoutMs?: number;
  timer?: ApprovalTimer;
  newId?: () => string;
  /** At most this many requests wait at once (default 64); more is ResourceExhausted. */
  maxPending?: number;
  /** Where hook failures are reported (they must not lose a decision). */
  warn?: (message: string) => void;
}

interface Parked {
  request: ApprovalRequest;
  resolve: (decision: ApprovalDecision) => void;
  reject: (err: TetherError) => void;
  timer?: unknown;
  dispose: () => void;
}

const RECENT_LIMIT = 256;

const systemTimer: ApprovalTimer = {
  setTimeout: (fn, ms) => setTimeout(fn, Math.min(ms, 2 ** 31 - 1)),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export class PendingApprovals implements Disposable {
  readonly #o: PendingApprovalsOptions;
  readonly #pending = new Map<string, Parked>();
  /** Ids answered lately, so a second answer is told apart from a wrong id. */
  readonly #recent = new Set<string>();
  #closed = false;

  constructor(options: PendingApprovalsOptions) {
    this.#o = options;
  }

  get size(): number {
    return this.#pending.size;
  }

  listPending(): ApprovalRequest[] {
    return [...this.#pending.values()].map((p) => p.request);
  }

  /** Parks a request and waits for its decision; rejects with the abort reason if `signal` fires. */
  request(init: Omit<ApprovalRequest, "requestId"> & { requestId?: string }, options: { signal: AbortSignal }): Promise<ApprovalDecision> {
    const { signal } = options;
    if (signal.aborted) return Promise.reject(TetherError.from(signal.reason ?? cancelled()));
    if (this.#closed) return Promise.reject(new TetherError(ErrorCode.FailedPrecondition, "the approval table is closed: the thread is shutting down"));
    const request: ApprovalRequest = { ...init, requestId: init.requestId ?? (this.#o.newId ?? randomUuid)() };
    if (this.#pending.has(request.requestId) || this.#recent.has(request.requestId)) {
      return Promise.reject(new TetherError(ErrorCode.AlreadyExists, `approval request id ${request.requestId} is already in use`));
    }
    if (!(this.#o.hasController?.() ?? true)) {
      const decision: ApprovalDecision = { type: "decline", reason: `no client is attached to answer approvals: ${request.reason}` };
      this.#remember(request.requestId);
      this.#notifyResolved(request, decision, "policy");
      return Promise.resolve(decision);
    }
    const max = this.#o.maxPending ?? 64;
    if (this.#pending.size >= max) {
      return Promise.reject(new TetherError(ErrorCode.ResourceExhausted, `${max} approvals are already waiting: answer them first`));
    }

    return new Promise<ApprovalDecision>((resolve, reject) => {
      const onAbort = () => this.#finish(request.requestId, { error: TetherError.from(signal.reason ?? cancelled()) }, "abort");
      const parked: Parked = { request, resolve, reject, dispose: () => signal.removeEventListener("abort", onAbort) };
      signal.addEventListener("abort", onAbort, { once: true });
      if (this.#o.timeoutMs !== undefined) {
        const timeoutMs = this.#o.timeoutMs;
        parked.timer = (this.#o.timer ?? systemTimer).setTimeout(() => {
          this.#finish(request.requestId, { decision: { type: "decline", reason: `nobody answered within ${timeoutMs} ms` } }, "timeout");
        }, timeoutMs);
      }
      this.#pending.set(request.requestId, parked);
      if (this.#pending.size === 1) this.#hook("onFirstPending");
      try {
        this.#o.onRequest(request);
      } catch (err) {
        // The controller never saw it: nobody can answer, so it must not stay parked.
        this.#finish(request.requestId, { error: TetherError.from(err, "emitting an approval request") }, "policy");
      }
    });
  }

  /** Answers a pending request. Unknown id → NotFound; answered already → FailedPrecondition. */
  respond(requestId: string, decision: ApprovalDecision): void {
    const parked = this.#pending.get(requestId);
    if (parked === undefined) {
      if (this.#recent.has(requestId)) {
        throw new TetherError(ErrorCode.FailedPrecondition, `approval ${requestId} was already decided: its answer cannot change`);
      }
      throw new TetherError(ErrorCode.NotFound, `no pending approval ${JSON.stringify(requestId)}: list pending approvals for the current ids`);
    }
    const offered = parked.request.availableDecisions;
    if (offered.length > 0 && !offered.includes(decision.type)) {
      throw new TetherError(ErrorCode.InvalidArgument, `decision ${decision.type} is not offered for approval ${requestId}: use one of ${offered.join(", ")}`);
    }
    if (decision.type === "accept_with_rule" && decision.rule !== undefined && (decision.rule.pattern.length === 0 || decision.rule.pattern.some((t) => t === ""))) {
      throw new TetherError(ErrorCode.InvalidArgument, "accept_with_rule needs a rule whose pattern has at least one non-empty token");
    }
    this.#finish(requestId, { decision }, "user");
  }

  /** Rejects every waiting request with Cancelled and refuses new ones. Idempotent. */
  close(reason = "the thread is shutting down"): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const id of [...this.#pending.keys()]) this.#finish(id, { error: cancelled(reason) }, "abort");
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #finish(requestId: string, outcome: { decision: ApprovalDecision } | { error: TetherError }, by: ResolvedBy): void {
    const parked = this.#pending.get(requestId);
    if (parked === undefined) return;
    this.#pending.delete(requestId);
    this.#remember(requestId);
    parked.dispose();
    if (parked.timer !== undefined) (this.#o.timer ?? systemTimer).clearTimeout(parked.timer);
    this.#notifyResolved(parked.request, "decision" in outcome ? outcome.decision : { type: "cancel" }, by);
    if (this.#pending.size === 0) this.#hook("onLastResolved");
    if ("decision" in outcome) parked.resolve(outcome.decision);
    else parked.reject(outcome.error);
  }

  #notifyResolved(request: ApprovalRequest, decision: ApprovalDecision, by: ResolvedBy): void {
    try {
      this.#o.onResolved?.(request, decision, by);
    } catch (err) {
      this.#warn(`onResolved failed for approval ${request.requestId}: ${TetherError.from(err).message}`);
    }
  }

  #hook(name: "onFirstPending" | "onLastResolved"): void {
    try {
      this.#o[name]?.();
    } catch (err) {
      this.#warn(`${name} failed: ${TetherError.from(err).message}`);
    }
  }

  #warn(message: string): void {
    (this.#o.warn ?? ((m: string) => process.emitWarning(m, "TetherApprovalWarning")))(message);
  }

  #remember(requestId: string): void {
    this.#recent.add(requestId);
    if (this.#recent.size > RECENT_LIMIT) this.#recent.delete(this.#recent.values().next().value!);
  }
}

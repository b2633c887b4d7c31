// The client half of a session's Events stream: dispatches what arrives to the controller's
// handlers (escalations, network requests) and to event listeners, answers each request once,
// and aborts a handler whose request the server already resolved (timed out, cancelled,
// session closed) so an approval prompt closes instead of answering into the void.
import { Decision, type EventsResponse, NetworkDecision } from "../../gen/tether/exec/v1/session_pb.js";
import { TetherError, ErrorCode } from "../../services/common/tether-error.js";
import type { EscalationDecision, EscalationHandler, NetworkRequestHandler, NetworkVerdict, SessionEvent } from "./environment.js";

const DECISION_CODES = { run: Decision.RUN, escalate: Decision.ESCALATE, deny: Decision.DENY } as const;
const DECISION_NAMES: Record<number, EscalationDecision> = { [Decision.RUN]: "run", [Decision.ESCALATE]: "escalate", [Decision.DENY]: "deny" };
const NETWORK_CODES = { allow_once: NetworkDecision.ALLOW_ONCE, allow_always: NetworkDecision.ALLOW_ALWAYS, deny: NetworkDecision.DENY } as const;
const NETWORK_NAMES: Record<number, NetworkVerdict> = {
  [NetworkDecision.ALLOW_ONCE]: "allow_once",
  [NetworkDecision.ALLOW_ALWAYS]: "allow_always",
  [NetworkDecision.DENY]: "deny",
};

/** Requests being answered at once, at most; more are denied at once (a flood must not grow memory). */
const MAX_IN_FLIGHT = 1024;

export interface SessionAnswers {
  decide(escalationId: string, decision: Decision, reason: string): Promise<void>;
  decideNetwork(requestId: string, decision: NetworkDecision, reason: string): Promise<void>;
}

export class SessionController {
  escalations: EscalationHandler | undefined;
  network: NetworkRequestHandler | undefined;
  readonly #answers: SessionAnswers;
  readonly #listeners = new Set<(event: SessionEvent) => void>();
  /** Requests a handler is working on, by id ("e:" escalations, "n:" network), to abort when resolved elsewhere. */
  readonly #inFlight = new Map<string, AbortController>();

  constructor(answers: SessionAnswers) {
    this.#answers = answers;
  }

  /** Whether the Events stream must be a controller stream. */
  get controls(): boolean {
    return this.escalations !== undefined || this.network !== undefined;
  }

  listen(listener: (event: SessionEvent) => void): Disposable {
    this.#listeners.add(listener);
    return { [Symbol.dispose]: () => void this.#listeners.delete(listener) };
  }

  dispatch(ev: EventsResponse): void {
    const e = ev.event;
    switch (e.case) {
      case "escalation":
        if (this.escalations) this.#run(`e:${e.value.escalationId}`, (signal) => this.#escalate(this.escalations!, e.value, signal));
        break;
      case "networkRequest":
        if (this.network) this.#run(`n:${e.value.requestId}`, (signal) => this.#allow(this.network!, e.value, signal));
        break;
      case "escalationResolved":
        this.#resolved(`e:${e.value.escalationId}`, `the exec server already decided ${DECISION_NAMES[e.value.decision] ?? "deny"}: ${e.value.reason}`);
        this.#emit({ type: "escalation_resolved", escalationId: e.value.escalationId, decision: DECISION_NAMES[e.value.decision] ?? "deny", reason: e.value.reason });
        break;
      case "networkResolved":
        this.#resolved(`n:${e.value.requestId}`, `the exec server already decided ${NETWORK_NAMES[e.value.decision] ?? "deny"}: ${e.value.reason}`);
        this.#emit({ type: "network_resolved", requestId: e.value.requestId, decision: NETWORK_NAMES[e.value.decision] ?? "deny", reason: e.value.reason });
        break;
      case "elicitation":
        this.#emit({ type: "elicitation", count: e.value.count });
        break;
      default:
        break;
    }
  }

  /** Aborts every handler still working (handler replaced, environment closing). */
  abortAll(reason: string): void {
    for (const [id, abort] of this.#inFlight) {
      abort.abort(new TetherError(ErrorCode.Cancelled, reason));
      this.#inFlight.delete(id);
    }
  }

  #emit(event: SessionEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch (err) {
        // A listener's bug must not stop the session's stream; it is reported, not swallowed.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  #resolved(key: string, reason: string): void {
    const abort = this.#inFlight.get(key);
    if (!abort) return;
    this.#inFlight.delete(key);
    abort.abort(new TetherError(ErrorCode.Aborted, reason));
  }

  /** Runs one handler per request id: a request re-sent to a reconnected controller is not asked twice. */
  #run(key: string, answer: (signal: AbortSignal) => Promise<void>): void {
    if (this.#inFlight.has(key) || this.#inFlight.size >= MAX_IN_FLIGHT) return;
    const abort = new AbortController();
    this.#inFlight.set(key, abort);
    void answer(abort.signal)
      .catch(() => {
        // Already decided on the server (NOT_FOUND), or the environment closed: it denied on its own.
      })
      .finally(() => {
        if (this.#inFlight.get(key) === abort) this.#inFlight.delete(key);
      });
  }

  async #escalate(handler: EscalationHandler, req: Parameters<EscalationHandler>[0], signal: AbortSignal): Promise<void> {
    let result;
    try {
      result = await handler(req, signal);
    } catch (err) {
      result = { decision: "deny" as const, reason: `the controller failed: ${TetherError.from(err).message}` };
    }
    if (signal.aborted) return;
    await this.#answers.decide(req.escalationId, DECISION_CODES[result.decision], result.reason ?? "");
  }

  async #allow(handler: NetworkRequestHandler, req: Parameters<NetworkRequestHandler>[0], signal: AbortSignal): Promise<void> {
    let result;
    try {
      result = await handler(req, signal);
    } catch (err) {
      result = { decision: "deny" as const, reason: `the controller failed: ${TetherError.from(err).message}` };
    }
    if (signal.aborted) return;
    await this.#answers.decideNetwork(req.requestId, NETWORK_CODES[result.decision], result.reason ?? "");
  }
}

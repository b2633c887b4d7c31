// How a thread answers its exec session's network proxy about a host no rule lists: through
// the same approval gate as the model's commands (execpolicy network rules and the approval
// policy first, then session grants, then an approval item for the user), mapped onto the
// proxy's three answers. Accepting for the session or with a rule is allow_always (the exec
// session remembers host:port); a plain accept is allow_once; anything else is deny.
// Connections to one host:port that arrive while it is being asked about wait for the same
// answer (a package manager opens many at once): one question, not one per connection.
import type { NetworkDecisionResult } from "../../../clients/environment/environment.js";
import type { NetworkRequest } from "../../../gen/tether/exec/v1/session_pb.js";
import { TetherError } from "../../common/tether-error.js";
import type { ProposedAction } from "../policy/approval-types.js";
import type { ApprovalCall, ApprovalGate } from "./approval-gate.js";

/** The running turn a request is asked in; absent between turns. */
export interface NetworkRequestTurn extends Omit<ApprovalCall, "signal"> {
  signal: AbortSignal;
  /** The user answered cancel: end the turn, as a tool's cancelled approval does. */
  cancelTurn(): void;
}

export function networkAction(req: Pick<NetworkRequest, "host" | "port" | "protocol">): Extract<ProposedAction, { kind: "network" }> {
  return { kind: "network", host: req.host, port: req.port, ...(req.protocol !== "" ? { protocol: req.protocol } : {}) };
}

/**
 * `signal` aborts when the exec server decided already (its decision timeout, the process
 * went away): the approval item then closes as decided by the server.
 */
export async function answerNetworkRequest(
  gate: ApprovalGate,
  req: Pick<NetworkRequest, "host" | "port" | "protocol">,
  signal: AbortSignal,
  turn: NetworkRequestTurn | undefined,
): Promise<NetworkDecisionResult> {
  const action = networkAction(req);
  const target = `${req.host}:${req.port}`;
  if (turn === undefined) {
    // A process that outlived its turn: rules and grants still answer, but no one is asked.
    const assessment = gate.assess(action);
    if (assessment.type === "skip") return { decision: assessment.lasting === false ? "allow_once" : "allow_always" };
    return { decision: "deny", reason: assessment.type === "forbidden" ? assessment.reason : `no turn of this thread is running to ask about ${target}` };
  }
  try {
    const result = await gate.authorize(action, { ...turn, signal: AbortSignal.any([signal, turn.signal]) });
    if (result.allowed) return { decision: result.lasting === true ? "allow_always" : "allow_once" };
    if (result.cancelTurn) turn.cancelTurn();
    return { decision: "deny", reason: result.reason };
  } catch (err) {
    // The wait ended without an answer (the server decided, the turn ended): the proxy has moved on.
    return { decision: "deny", reason: TetherError.from(err).message };
  }
}

interface InFlight {
  answer: Promise<NetworkDecisionResult>;
  /** Waiters whose own request is still wanted; the question closes when none is left. */
  waiting: number;
  abort: AbortController;
}

/** A thread's answers to its proxy, with concurrent questions about one host:port shared. */
export class NetworkRequestAnswers {
  readonly #gate: ApprovalGate;
  readonly #inFlight = new Map<string, InFlight>();

  constructor(gate: ApprovalGate) {
    this.#gate = gate;
  }

  answer(req: Pick<NetworkRequest, "host" | "port" | "protocol">, signal: AbortSignal, turn: NetworkRequestTurn | undefined): Promise<NetworkDecisionResult> {
    if (turn === undefined) return answerNetworkRequest(this.#gate, req, signal, turn);
    const key = `${turn.turnId} ${req.host.toLowerCase()}:${req.port}`;
    let entry = this.#inFlight.get(key);
    if (entry === undefined) {
      const abort = new AbortController();
      const created: InFlight = { waiting: 0, abort, answer: Promise.resolve({ decision: "deny" }) };
      created.answer = answerNetworkRequest(this.#gate, req, abort.signal, turn).finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, created);
      entry = created;
    }
    return this.#wait(entry, signal);
  }

  async #wait(entry: InFlight, signal: AbortSignal): Promise<NetworkDecisionResult> {
    entry.waiting++;
    let onAbort: (() => void) | undefined;
    const gone = new Promise<NetworkDecisionResult>((resolve) => {
      onAbort = () => {
        // The server decided this request: the shared question stays open for the others.
        if (--entry.waiting === 0) entry.abort.abort(signal.reason);
        resolve({ decision: "deny", reason: TetherError.from(signal.reason).message });
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return await Promise.race([entry.answer, gone]);
    } finally {
      if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
    }
  }
}

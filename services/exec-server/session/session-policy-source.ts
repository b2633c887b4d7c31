// What starting a process asks of the sessions that own processes: the session's default
// sandbox and its controller's answers. SessionManager implements it; the preparer receives
// it with each Start (ExecCore passes its SessionManager), so the process manager and the
// session manager are built in order and neither holds a late-bound reference to the other.
import type { SandboxPolicy } from "../../../gen/tether/exec/v1/sandbox_pb.js";
import type { DecisionResult, ExecIntercept } from "../escalation/escalation-types.js";
import type { NetworkAnswer, NetworkAsk } from "./session.js";

export interface SessionPolicySource {
  /** The session's default sandbox, for processes that ask for none; undefined for no (or an unknown) session. */
  sandboxOf(sessionId: string): SandboxPolicy | undefined;
  /** Asks the session's controller about a command a zsh-fork shell wants to exec. */
  requestDecision(sessionId: string, request: ExecIntercept, signal: AbortSignal): Promise<DecisionResult>;
  /** Asks the session's controller about a host a process's proxy has no rule for. */
  requestNetworkDecision(sessionId: string, request: NetworkAsk, signal: AbortSignal): Promise<NetworkAnswer>;
}

// What a zsh-fork shell asks before each exec, and what it may be told. Plain data,
// shared by the escalation socket server and the session that forwards it to a controller.

export type EscalationDecision = "run" | "escalate" | "deny";

export interface ExecIntercept {
  processId: string;
  /** Resolved executable path the shell is about to exec. */
  file: string;
  argv: string[];
  cwd: string;
  env: Record<string, string>;
}

export interface DecisionResult {
  decision: EscalationDecision;
  /** Shown on stderr for deny. */
  reason?: string;
}

/** Asks whoever controls the owning session; resolves "deny" when nobody answers in time. */
export type DecideFn = (req: ExecIntercept, signal: AbortSignal) => Promise<DecisionResult>;

// Approvals as data (STYLE rule 19): what may be proposed, how policy assesses it, what a
// human may answer. Shared by the policy module, the tools, the core's pending table and
// every client (gRPC, TUI, exec mode).

export type SandboxMode = "read-only" | "workspace-write" | "full-access";

/** When to ask: Codex's names, so users keep their habits. */
export type ApprovalPolicyMode = "untrusted" | "on-failure" | "on-request" | "never";

/** Kinds of prompt that a granular policy can auto-decline. */
export type PromptKind = "sandbox_approval" | "rules" | "request_permissions" | "mcp_elicitations";

export type ApprovalPolicy = ApprovalPolicyMode | { mode: ApprovalPolicyMode; reject: PromptKind[] };

/** An execpolicy prefix rule as proposed for "accept and add a rule". */
export interface PrefixRuleProposal {
  pattern: string[];
  decision: "allow" | "prompt" | "forbidden";
  justification?: string;
}

/** An execpolicy network rule as "accept and add a rule" appends it for a network approval. */
export interface NetworkRuleProposal {
  host: string;
  decision: "allow" | "deny";
  /** As the proxy saw the connection ("http", "https"); Codex's loader needs one. */
  protocol?: string;
}

/** Something a tool wants to do, as policy sees it. */
export type ProposedAction =
  | {
      kind: "command";
      /** The command line as the model wrote it (shell syntax) and its argv when known. */
      commandLine: string;
      argv: string[];
      cwd: string;
      /** The model asked to run outside the sandbox (with_escalated_permissions / on-request). */
      escalated: boolean;
      justification?: string;
    }
  /** on-failure: the sandboxed run was refused by the sandbox; run again without it? */
  | { kind: "retry_unsandboxed"; commandLine: string; argv: string[]; cwd: string; failure: string }
  | { kind: "file_change"; paths: string[]; /** Any path outside the writable roots. */ outsideWritableRoots: boolean }
  /** A zsh-fork shell is about to exec this (escalation request from the exec layer). */
  | { kind: "escalation"; file: string; argv: string[]; cwd: string }
  /** The sandbox's network proxy asks about a host no rule lists (protocol: "http" or "https", kept in the core only). */
  | { kind: "network"; host: string; port: number; protocol?: string }
  | { kind: "permissions"; reason: string; writableRoots?: string[]; network?: boolean };

/** Policy's verdict (the data a tool acts on): run, ask first, or refuse. */
export type Assessment =
  | {
      type: "skip";
      /** Run outside the sandbox (a rule or the user allowed it). */ unsandboxed: boolean;
      reason?: string;
      /**
       * Whether the same action stays allowed for the rest of the session (a rule, a session
       * grant): the exec layer may remember it. False when only the thread's current settings
       * allow it, which UpdateThreadSettings can change. Absent: true.
       */
      lasting?: boolean;
    }
  | {
      type: "needs_approval";
      reason: string;
      promptKind: PromptKind;
      proposedRule?: PrefixRuleProposal;
      /**
       * Whether the action runs outside the sandbox once accepted (an escalation the model asked
       * for, a retry after a sandbox refusal, a rule-prompted zsh-fork exec). Absent: decide from the action.
       */
      unsandboxedOnAccept?: boolean;
    }
  | { type: "forbidden"; reason: string };

export type ApprovalDecision =
  | { type: "accept" }
  | { type: "accept_for_session" }
  /**
   * Absent rule: the one the request proposed; for a network request the rule is always
   * network_rule(host=<its host>, decision="allow"), whatever is given here.
   */
  | { type: "accept_with_rule"; rule?: PrefixRuleProposal }
  | { type: "decline"; reason?: string }
  /** Decline and end the turn. */
  | { type: "cancel" };

export type ApprovalDecisionType = ApprovalDecision["type"];

/** What a client is asked: serializable, parked in the core's pending table until answered. */
export interface ApprovalRequest {
  requestId: string;
  threadId: string;
  turnId: string;
  /** The model's call id the approval belongs to. */
  callId: string;
  action: ProposedAction;
  reason: string;
  promptKind: PromptKind;
  proposedRule?: PrefixRuleProposal;
  /** Which answers make sense for this request (e.g. no rule for a file change). */
  availableDecisions: ApprovalDecisionType[];
  /**
   * The command whose running process asked (a network request, a zsh-fork escalation), when
   * known. It may have been started by an earlier call, or in an earlier turn: `turnId` is then
   * the running turn (where the question is shown) and `callId` the call that started it.
   */
  command?: string;
}

/** What a tool gets back from asking to act. */
export type Authorization =
  | {
      allowed: true;
      unsandboxed: boolean;
      /** Policy would allow the same action again unasked (a rule, a session grant, or policy itself): callers may remember it. */
      lasting?: boolean;
    }
  | { allowed: false; reason: string; by: "policy" | "user" | "timeout"; /** The user chose cancel: end the turn. */ cancelTurn: boolean };

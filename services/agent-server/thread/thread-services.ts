// What a thread needs from the pieces built beside it (tools, policy), as narrow interfaces:
// the core drives these and never reaches into their modules. Adapters in agent-core.ts
// wire the real tool registry and execpolicy to them.
import type { Environment } from "../../../clients/environment/environment.js";
import type { ApprovalPolicy, Assessment, NetworkRuleProposal, PrefixRuleProposal, ProposedAction, SandboxMode } from "../policy/approval-types.js";
import type { ToolSpec } from "../model/model-client.js";
import type { ItemEmitter, ToolContext, ToolResult } from "../tools/tool.js";
import type { ExecJournal, SavedExecSessions } from "./rollout-record.js";

/** The thread's fixed tool set: what the model is offered and how a call runs. */
export interface ThreadTools {
  readonly specs: ToolSpec[];
  /** Runs one call; unknown tools and bad arguments come back as a failed result (rule 17). */
  run(call: { name: string; arguments: string; callId: string }, ctx: ToolContext): Promise<ToolResult>;
  /**
   * Starts loading what calls need (the argument parsers) without waiting; called when the model
   * starts a function call, so the streaming of its arguments hides the load (and a turn with no
   * call never loads them). Failures surface on the call.
   */
  prefetch?(): void;
  /** Kills every process group the turn started (interrupt). */
  terminateTurn(turnId: string): Promise<void>;
  /** Ends everything the tools hold (thread close). */
  closeAll(): Promise<void>;
  /**
   * A resumed thread: takes back the long-lived processes the rollout recorded from the
   * (reattached) environment. Returns the session ids restored and those that were gone.
   */
  restore?(saved: SavedExecSessions, signal?: AbortSignal, items?: PastTurnItems): Promise<{ restored: number[]; lost: number[] }>;
  /** Long-lived processes the tools hold now (they die with a closed, undetachable environment). */
  liveProcesses?(): number;
  /** Which call started a running process (by the exec layer's process id), when the tools hold it. */
  originOf?(processId: string): ProcessOrigin | undefined;
}

/** The item emitter of a turn the thread holds (it may have ended): a restored command's item completes there. */
export type PastTurnItems = (turnId: string) => ItemEmitter | undefined;

/** The model's call behind a process: where a question that process asks belongs. */
export interface ProcessOrigin {
  turnId: string;
  /** Absent when not known (a session restored from an older rollout). */
  callId?: string;
  /** The command line as the model wrote it. */
  command: string;
}

export interface PolicyContext {
  sandbox: SandboxMode;
  approvalPolicy: ApprovalPolicy;
  cwd: string;
  writableRoots: string[];
}

/** The thread's policy: execpolicy rules, session grants and the approval policy together. */
export interface ThreadPolicy {
  assess(action: ProposedAction, ctx: PolicyContext): Assessment;
  /** "Accept for the session": the same action is not asked again in this thread. */
  grantForSession(action: ProposedAction): void;
  /** "Accept and add a rule": appended to the user's rule file and applied at once. */
  addRule(rule: PrefixRuleProposal): Promise<void>;
  /** "Accept and add a rule" for a network approval (absent: the host is granted for the session only). */
  addNetworkRule?(rule: NetworkRuleProposal): Promise<void>;
  /** The network rules the sandbox's proxy applies itself (ExecPolicy.proxyHostLists); absent: none, every host is asked. */
  proxyHostLists?(): { allowHosts: string[]; denyHosts: string[] };
}

export interface ThreadSetup {
  threadId: string;
  cwd: string;
  env: Environment;
  sandbox: SandboxMode;
  writableRoots: string[];
  /** Journals what the tools must find again after a restart (the thread's rollout). */
  journal?: ExecJournal;
}

/** Builds a thread's tools and policy once its environment is open. */
export interface ThreadServicesFactory {
  tools(setup: ThreadSetup): ThreadTools | Promise<ThreadTools>;
  policy(setup: ThreadSetup): ThreadPolicy | Promise<ThreadPolicy>;
}

// What the command line and other callers see of the agent, whatever carries it: the core
// in this process, or an agent server over gRPC. Shapes are the core's plain event data.
import type { ApprovalDecision, ApprovalPolicy, ApprovalRequest, SandboxMode } from "../../services/agent-server/policy/approval-types.js";
import type { ThreadEvent, ThreadInfo, ThreadItem } from "../../services/agent-server/thread/thread-event.js";

export interface ThreadOptions {
  cwd: string;
  /** An `--env` target: "local" (in-process), "unix:///…", "grpcs://…", "docker", … */
  environment: string;
  model: string;
  sandbox: SandboxMode;
  approvalPolicy: ApprovalPolicy;
  /** Extra writable roots for workspace-write. */
  writableRoots?: string[];
}

/**
 * What a live thread may change (UpdateThreadSettings): applied from its next model request
 * and next tool call on, a running turn included; a call already running keeps its own.
 * `writableRoots` replaces the roots beyond the cwd.
 */
export type ThreadSettings = Partial<Pick<ThreadOptions, "model" | "sandbox" | "approvalPolicy" | "writableRoots">>;

export interface TurnInput {
  text: string;
  /** `exec --output-schema`: the final answer must validate against it. */
  outputSchema?: Record<string, unknown>;
}

export interface ThreadSnapshot {
  thread: ThreadInfo;
  /** Every completed item, turn by turn, as rebuilt from the rollout. */
  turns: { turnId: string; items: ThreadItem[]; status: "completed" | "failed" | "interrupted" }[];
}

export interface AgentClient extends AsyncDisposable {
  startThread(options: ThreadOptions): Promise<ThreadInfo>;
  /** Re-opens a stored thread (its environment and settings, overridable). */
  resumeThread(threadId: string, overrides?: Partial<ThreadOptions>): Promise<ThreadInfo>;
  /** A new thread with this one's history (optionally only its first `turns` turns). */
  forkThread(threadId: string, options?: { turns?: number }): Promise<ThreadInfo>;
  /** Changes a live thread's model, sandbox (and writable roots) or approval policy; recorded in its rollout. */
  updateThreadSettings(threadId: string, settings: ThreadSettings): Promise<ThreadInfo>;
  /** Drops the last `turns` turns from the thread's history. */
  rollback(threadId: string, turns: number): Promise<ThreadInfo>;
  listThreads(options?: { limit?: number; cwd?: string }): Promise<ThreadInfo[]>;
  readThread(threadId: string): Promise<ThreadSnapshot>;

  /** Starts a turn; its events arrive on `events()`. Returns the turn id at once. */
  startTurn(threadId: string, input: TurnInput): Promise<{ turnId: string }>;
  /** Adds input to the running turn (seen by the model at its next request). */
  steer(threadId: string, text: string): Promise<void>;
  /** Cancels the model request and kills every process group the turn started. */
  interrupt(threadId: string): Promise<void>;

  /**
   * The thread's event stream. The first subscriber that asks to be controller receives
   * approval requests (as `item.started` of an approval item) and answers with `respond`.
   */
  events(threadId: string, options?: { controller?: boolean; signal?: AbortSignal }): AsyncIterable<ThreadEvent>;
  listPendingApprovals(threadId: string): Promise<ApprovalRequest[]>;
  respond(threadId: string, requestId: string, decision: ApprovalDecision): Promise<void>;

  close(): Promise<void>;
}

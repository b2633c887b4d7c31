// The agent's one event union (STYLE rule 18): everything a thread emits, in order, as plain
// serializable data. The turn loop yields it, rollouts store it, the gRPC stream carries it,
// and `exec --json` and the TUI are pure mappers over it.
import type { ApprovalDecision, ApprovalPolicy, ApprovalRequest, SandboxMode } from "../policy/approval-types.js";

export interface Usage {
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningOutputTokens: number;
}

export interface ThreadInfo {
  threadId: string;
  createdAt: string; // ISO 8601
  updatedAt: string;
  cwd: string;
  /** Where commands run: an `--env` target ("local", "unix:///…", "docker", …). */
  environment: string;
  model: string;
  sandbox: SandboxMode;
  approvalPolicy: ApprovalPolicy;
  /** First user message, cut short: what `list` shows. */
  preview: string;
  forkedFrom?: { threadId: string; turnCount: number };
}

export type ItemStatus = "in_progress" | "completed" | "failed" | "declined";

export type PlanStepStatus = "pending" | "in_progress" | "completed";

export interface FileChange {
  path: string;
  kind: "add" | "update" | "delete";
  /** For an update that also renames the file. */
  movePath?: string;
  /** Unified diff of the change, for display. */
  diff?: string;
}

/** An item is a snapshot: item.started carries the first one, item.updated/completed later ones. */
export type ThreadItem =
  | { type: "user_message"; id: string; text: string }
  | { type: "agent_message"; id: string; text: string }
  | { type: "reasoning"; id: string; text: string }
  | {
      type: "command_execution";
      id: string;
      /** The model's call id. */
      callId: string;
      command: string;
      cwd: string;
      /** Unified-exec session id the model may pass to write_stdin (while the process runs). */
      sessionId?: string;
      /** Aggregated output, capped (head + tail kept, with a marker saying what was cut). */
      output: string;
      exitCode?: number;
      status: ItemStatus;
      durationMs?: number;
    }
  | { type: "file_change"; id: string; callId: string; changes: FileChange[]; status: ItemStatus; error?: string }
  | { type: "plan"; id: string; explanation?: string; steps: { step: string; status: PlanStepStatus }[] }
  | { type: "approval"; id: string; request: ApprovalRequest; decision?: ApprovalDecision; decidedBy?: "user" | "policy" | "timeout" | "server" }
  | { type: "tool_call"; id: string; callId: string; name: string; arguments: string; output?: string; status: ItemStatus }
  | { type: "error"; id: string; message: string };

export interface TurnError {
  /** A TetherError code name, e.g. "UNAVAILABLE", "DEADLINE_EXCEEDED", "UNAUTHENTICATED". */
  code: string;
  message: string;
  /**
   * "environment": the thread's environment could not be opened (a lazily opened one, at the
   * tool call that needed it), so the turn could not run there at all; a CLI exits as for an
   * unreachable environment. Absent: the model, a tool or the agent failed.
   */
  source?: "environment";
}

export type ThreadEvent =
  | { type: "thread.started"; thread: ThreadInfo }
  /**
   * The thread's settings changed (UpdateThreadSettings, from any client): every subscriber
   * learns the model, approval policy and sandbox now in force, and the writable roots beyond
   * the cwd. Not tied to a turn; a running turn uses them from its next request or call on.
   */
  | { type: "thread.settings_updated"; thread: ThreadInfo; writableRoots: string[] }
  | { type: "turn.started"; turnId: string }
  | { type: "turn.completed"; turnId: string; usage: Usage }
  | { type: "turn.failed"; turnId: string; error: TurnError; usage: Usage }
  | { type: "turn.interrupted"; turnId: string; usage: Usage }
  | { type: "item.started"; turnId: string; item: ThreadItem }
  | { type: "item.updated"; turnId: string; item: ThreadItem }
  | { type: "item.completed"; turnId: string; item: ThreadItem }
  /** Streaming pieces of an open item: agent text, reasoning text, command output. */
  | { type: "item.delta"; turnId: string; itemId: string; kind: "text" | "reasoning" | "output"; delta: string }
  /** The model request is being retried: a UI drops partial text it showed for this attempt. */
  | { type: "model.retrying"; turnId: string; attempt: number; maxAttempts: number; delayMs: number; reason: string }
  /** `id`: set by the thread's event fan-out, unique per warning; a re-subscribing client tells a kept warning it already showed by it. */
  | { type: "warning"; message: string; id?: string };

export const EMPTY_USAGE: Usage = Object.freeze({ inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningOutputTokens: 0 });

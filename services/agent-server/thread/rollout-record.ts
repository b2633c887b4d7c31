// The lines of a rollout file (one JSON object per line, append-only). Format 1:
// the first line is `meta` (format version, the thread, what it was forked from); then, per
// turn, `turn` opens it, `input` lines are the model input it added (exactly what the
// model saw), `item` lines are completed thread items (what a reader shows), `end` closes it.
// `rollback` drops the last N turns; `settings` records changed thread options on resume.
// `exec` / `exec_closed` journal the unified-exec sessions the model may come back to, so a
// restarted agent reattaches to them (the meta line names the thread's exec session).
// `grant` records an "accept for the session"; `grants_cleared` ends them all (the exec
// session they belonged to was gone when the thread was opened again).
import type { ConversationItem } from "../model/model-client.js";
import type { ProposedAction } from "../policy/approval-types.js";
import type { ThreadInfo, ThreadItem, TurnError, Usage } from "./thread-event.js";

export const ROLLOUT_FORMAT = 1;

export type TurnStatus = "completed" | "failed" | "interrupted";

/** A unified-exec session still running after a call: what write_stdin needs after a restart. */
export interface ExecSessionRecord {
  /** The model's session id (write_stdin's session_id). */
  sessionId: number;
  processId: string;
  turnId: string;
  /** The call that started it (absent in older rollouts). */
  callId?: string;
  command: string;
  cwd: string;
  tty: boolean;
  /** The last output event seq the model was given (a bigint, as a decimal string). */
  cursor: string;
}

/** Where a thread's unified-exec table journals its lasting changes (the rollout). */
export interface ExecJournal {
  running(record: ExecSessionRecord): void;
  closed(sessionId: number): void;
}

/** What a thread's rollout says about its unified-exec sessions when it is resumed. */
export interface SavedExecSessions {
  sessions: ExecSessionRecord[];
  /** Above every id the thread handed out (0: none recorded). */
  nextId: number;
}

export type RolloutRecord =
  | {
      t: "meta";
      format: number;
      thread: ThreadInfo;
      forkedFrom?: { threadId: string; turnCount: number };
      /** The exec session the thread's environment opens (and reopens on resume); absent in older files. */
      execSessionId?: string;
      /** Writable roots beyond the cwd (workspace-write). */
      writableRoots?: string[];
      /** The first unified-exec session id to hand out (a fork starts after its parent's). */
      execNextId?: number;
    }
  | { t: "turn"; turnId: string; at: string }
  | { t: "input"; turnId: string; item: ConversationItem }
  | { t: "item"; turnId: string; item: ThreadItem }
  | { t: "end"; turnId: string; status: TurnStatus; usage: Usage; error?: TurnError; at: string }
  | { t: "rollback"; turns: number; at: string }
  | { t: "settings"; thread: ThreadInfo; writableRoots?: string[] }
  | { t: "exec"; session: ExecSessionRecord }
  | { t: "exec_closed"; sessionId: number }
  | { t: "grant"; action: ProposedAction }
  | { t: "grants_cleared"; reason: string };

/** Stored command output in thread items is cut to this (the model's copy is capped separately). */
export const MAX_STORED_ITEM_OUTPUT_CHARS = 16 * 1024;

export function capStoredItem(item: ThreadItem): ThreadItem {
  if (item.type !== "command_execution" && item.type !== "tool_call") return item;
  const output = item.output;
  if (output === undefined || output.length <= MAX_STORED_ITEM_OUTPUT_CHARS) return item;
  const half = MAX_STORED_ITEM_OUTPUT_CHARS / 2;
  return { ...item, output: `${output.slice(0, half)}\n[… ${output.length - 2 * half} characters not stored …]\n${output.slice(-half)}` };
}

// What a Thread is built from (open-thread.ts assembles it) and the turns it holds.
import type { Environment, SandboxPolicyInit } from "../../../clients/environment/environment.js";
import type { ConversationItem, ModelClient, ReasoningSettings } from "../model/model-client.js";
import type { SandboxMode } from "../policy/approval-types.js";
import type { RolloutWriter } from "./rollout-writer.js";
import type { ThreadInfo, ThreadItem } from "./thread-event.js";
import type { ThreadPolicy, ThreadTools } from "./thread-services.js";

export interface ThreadTurnView {
  turnId: string;
  items: ThreadItem[];
  status: "completed" | "failed" | "interrupted" | "in_progress";
}

/** A turn as the thread holds it: what it showed and the model input it added. */
export interface LiveTurn extends ThreadTurnView {
  input: ConversationItem[];
}

export interface ThreadInit {
  info: ThreadInfo;
  env: Environment;
  tools: ThreadTools;
  policy: ThreadPolicy;
  model: ModelClient;
  writer: RolloutWriter;
  turns: LiveTurn[];
  /** Every writable root, the cwd first. */
  writableRoots: string[];
  /** The exec session's default sandbox for these settings (set again when they change). */
  sessionSandbox: (mode: SandboxMode, writableRoots: readonly string[]) => SandboxPolicyInit;
  instructions: (signal: AbortSignal) => Promise<string>;
  /** Every request's reasoning settings (config); reasoning items come back encrypted and stay in the input. */
  reasoning?: ReasoningSettings;
  newId: (prefix: string) => string;
  now: () => Date;
  /** Called after each turn ends (the index records the new updatedAt). */
  onTurnEnd: (info: ThreadInfo) => Promise<void>;
  /** Called once a turn has completed (config `notify`); must not block: `warn` reports later trouble on the thread. */
  onTurnCompleted?: (turn: { threadId: string; turnId: string; cwd: string; items: readonly ThreadItem[] }, warn: (message: string) => void) => void;
  maxQueuedEvents?: number;
}

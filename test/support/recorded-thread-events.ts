// Recorded ThreadEvent sequences, in the order the agent core emits them (STYLE rule 18), for
// the pure mappers and reducers of the command line (exec --json, the TUI): each tested
// against the same turns without a model or an agent running.
import type { ThreadEvent, ThreadInfo, Usage } from "../../services/agent-server/thread/thread-event.js";
import type { ApprovalRequest } from "../../services/agent-server/policy/approval-types.js";

const THREAD: ThreadInfo = {
  threadId: "th-1",
  createdAt: "2026-12-07T04:00:00.000Z",
  updatedAt: "2026-12-07T04:00:00.000Z",
  cwd: "/work/repo",
  environment: "local",
  model: "gpt-test",
  sandbox: "workspace-write",
  approvalPolicy: "never",
  preview: "fix the build",
};

export const USAGE: Usage = { inputTokens: 1200, cachedInputTokens: 200, outputTokens: 345, reasoningOutputTokens: 40 };

const T = "turn-1";

/** Reasoning, one command with streamed output, a streamed answer. */
export const COMMAND_TURN: ThreadEvent[] = [
  { type: "thread.started", thread: THREAD },
  { type: "turn.started", turnId: T },
  { type: "item.started", turnId: T, item: { type: "user_message", id: "u1", text: "fix the build" } },
  { type: "item.started", turnId: T, item: { type: "reasoning", id: "r1", text: "" } },
  { type: "item.delta", turnId: T, itemId: "r1", kind: "reasoning", delta: "look at " },
  { type: "item.delta", turnId: T, itemId: "r1", kind: "reasoning", delta: "the log" },
  { type: "item.completed", turnId: T, item: { type: "reasoning", id: "r1", text: "look at the log" } },
  {
    type: "item.started",
    turnId: T,
    item: { type: "command_execution", id: "c1", callId: "call_1", command: "make", cwd: "/work/repo", output: "", status: "in_progress" },
  },
  { type: "item.delta", turnId: T, itemId: "c1", kind: "output", delta: "cc -o app\n" },
  {
    type: "item.updated",
    turnId: T,
    item: { type: "command_execution", id: "c1", callId: "call_1", command: "make", cwd: "/work/repo", sessionId: "7", output: "cc -o app\n", status: "in_progress" },
  },
  { type: "item.delta", turnId: T, itemId: "c1", kind: "output", delta: "ok\n" },
  {
    type: "item.completed",
    turnId: T,
    item: { type: "command_execution", id: "c1", callId: "call_1", command: "make", cwd: "/work/repo", output: "cc -o app\nok\n", exitCode: 0, status: "completed", durationMs: 812 },
  },
  { type: "item.started", turnId: T, item: { type: "agent_message", id: "m1", text: "" } },
  { type: "item.delta", turnId: T, itemId: "m1", kind: "text", delta: "The build " },
  { type: "item.delta", turnId: T, itemId: "m1", kind: "text", delta: "passes." },
  { type: "item.completed", turnId: T, item: { type: "agent_message", id: "m1", text: "The build passes." } },
  { type: "turn.completed", turnId: T, usage: USAGE },
];

/** A plan kept across the turn, a file change, a warning and a retried model request. */
export const PLAN_TURN: ThreadEvent[] = [
  { type: "turn.started", turnId: T },
  {
    type: "item.started",
    turnId: T,
    item: { type: "plan", id: "p1", steps: [{ step: "read", status: "in_progress" }, { step: "patch", status: "pending" }] },
  },
  { type: "model.retrying", turnId: T, attempt: 1, maxAttempts: 5, delayMs: 1500, reason: "HTTP 429" },
  {
    type: "item.started",
    turnId: T,
    item: { type: "file_change", id: "f1", callId: "call_2", changes: [{ path: "src/a.ts", kind: "update", diff: "-a\n+b\n" }], status: "in_progress" },
  },
  {
    type: "item.completed",
    turnId: T,
    item: { type: "file_change", id: "f1", callId: "call_2", changes: [{ path: "src/a.ts", kind: "update", diff: "-a\n+b\n" }], status: "completed" },
  },
  {
    type: "item.updated",
    turnId: T,
    item: { type: "plan", id: "p1", steps: [{ step: "read", status: "completed" }, { step: "patch", status: "completed" }] },
  },
  { type: "warning", message: "AGENTS.md is larger than 32 KiB: cut" },
  { type: "item.completed", turnId: T, item: { type: "agent_message", id: "m2", text: "Patched." } },
  { type: "turn.completed", turnId: T, usage: USAGE },
];

const PUSH_REQUEST: ApprovalRequest = {
  requestId: "req-1",
  threadId: "th-1",
  turnId: T,
  callId: "call_3",
  action: { kind: "command", commandLine: "git push", argv: ["git", "push"], cwd: "/work/repo", escalated: true },
  reason: "network access",
  promptKind: "sandbox_approval",
  availableDecisions: ["accept", "accept_for_session", "decline", "cancel"],
};

/** A command the policy refused (no one to ask), then the model gives up. */
export const DECLINED_TURN: ThreadEvent[] = [
  { type: "turn.started", turnId: T },
  {
    type: "item.started",
    turnId: T,
    item: {
      type: "approval",
      id: "a1",
      request: PUSH_REQUEST,
    },
  },
  {
    type: "item.completed",
    turnId: T,
    item: {
      type: "approval",
      id: "a1",
      request: PUSH_REQUEST,
      decision: { type: "decline", reason: "approvals never ask in exec mode" },
      decidedBy: "policy",
    },
  },
  {
    type: "item.completed",
    turnId: T,
    item: { type: "command_execution", id: "c3", callId: "call_3", command: "git push", cwd: "/work/repo", output: "", status: "declined" },
  },
  { type: "item.completed", turnId: T, item: { type: "agent_message", id: "m3", text: "I could not push." } },
  { type: "turn.completed", turnId: T, usage: USAGE },
];

/** A command still running when the model request fails for good. */
export const FAILED_TURN: ThreadEvent[] = [
  { type: "turn.started", turnId: T },
  {
    type: "item.started",
    turnId: T,
    item: { type: "command_execution", id: "c4", callId: "call_4", command: "sleep 100", cwd: "/work/repo", output: "", status: "in_progress" },
  },
  { type: "item.completed", turnId: T, item: { type: "error", id: "e1", message: "tool output was cut to 10 KiB" } },
  { type: "turn.failed", turnId: T, error: { code: "UNAVAILABLE", message: "the model server at http://127.0.0.1:1/v1 is unreachable" }, usage: USAGE },
];

export const INTERRUPTED_TURN: ThreadEvent[] = [
  { type: "turn.started", turnId: T },
  { type: "item.started", turnId: T, item: { type: "agent_message", id: "m5", text: "" } },
  { type: "item.delta", turnId: T, itemId: "m5", kind: "text", delta: "Let me" },
  { type: "turn.interrupted", turnId: T, usage: USAGE },
];

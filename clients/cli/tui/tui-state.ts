// The interactive session's view state and its pure reducer (STYLE rule 21): agent events
// and a few local actions in, what the screen shows out. No Ink here, no agent calls: the
// controller dispatches, the components draw. Everything kept is bounded.
import type { ApprovalDecision, ApprovalRequest } from "../../../services/agent-server/policy/approval-types.js";
import type { FileChange, PlanStepStatus, ThreadEvent, ThreadInfo, ThreadItem, Usage } from "../../../services/agent-server/thread/thread-event.js";
import { EMPTY_USAGE } from "../../../services/agent-server/thread/thread-event.js";

/** Output kept per command (its tail): enough to read, bounded however much it prints. */
export const MAX_COMMAND_OUTPUT = 64 << 10;
/** Entries kept for the live area before the oldest finished ones are dropped from memory. */
export const MAX_ENTRIES = 400;

export type Entry =
  | { kind: "user"; id: string; text: string }
  | { kind: "agent"; id: string; text: string; done: boolean }
  | { kind: "reasoning"; id: string; text: string; done: boolean }
  | { kind: "command"; id: string; command: string; output: string; exitCode?: number; status: string; durationMs?: number; done: boolean }
  | { kind: "files"; id: string; changes: FileChange[]; status: string; error?: string; done: boolean }
  | { kind: "approval"; id: string; request: ApprovalRequest; decision?: ApprovalDecision["type"]; decidedBy?: string; done: boolean }
  | { kind: "error"; id: string; message: string }
  | { kind: "notice"; id: string; text: string; tone: "info" | "warn" | "error" };

export type Phase = "thinking" | "responding" | "command" | "approval";

export interface TuiState {
  thread?: ThreadInfo;
  /** Finished entries not yet printed above the live area, in order. */
  finished: Entry[];
  /** Bumped when `finished` was cut: the view starts a new static block. */
  finishedEpoch: number;
  /** Entries still changing (and any finished ones after the first of those, to keep order). */
  live: Entry[];
  plan?: { explanation?: string; steps: { step: string; status: PlanStepStatus }[] };
  turn?: { turnId: string; startedAt: number; phase: Phase };
  /** Approval requests this session must answer, oldest first. */
  pending: ApprovalRequest[];
  /** Token use of the thread so far. */
  usage: Usage;
  /** Files changed in this thread, by path: what /diff shows. */
  changes: Record<string, FileChange>;
  nextNotice: number;
}

export type TuiAction =
  | { type: "event"; event: ThreadEvent; at: number }
  | { type: "notice"; text: string; tone?: "info" | "warn" | "error" }
  | { type: "answered"; requestId: string }
  /** /new or /resume: a different thread from now on. */
  | { type: "reset" }
  /** The thread's settings changed (/approvals MODE, /model NAME): what the agent answered. */
  | { type: "settings"; thread: ThreadInfo }
  /** Items of a resumed thread's past turns, shown as finished entries. */
  | { type: "history"; items: ThreadItem[] };

export const INITIAL_TUI_STATE: TuiState = {
  finished: [],
  finishedEpoch: 0,
  live: [],
  pending: [],
  usage: EMPTY_USAGE,
  changes: {},
  nextNotice: 0,
};

function isDone(e: Entry): boolean {
  return !("done" in e) || e.done;
}

function capOutput(text: string): string {
  return text.length <= MAX_COMMAND_OUTPUT ? text : text.slice(text.length - MAX_COMMAND_OUTPUT);
}

function entryOf(item: ThreadItem, done: boolean): Entry | undefined {
  switch (item.type) {
    case "user_message":
      return { kind: "user", id: item.id, text: item.text };
    case "agent_message":
      return { kind: "agent", id: item.id, text: item.text, done };
    case "reasoning":
      return { kind: "reasoning", id: item.id, text: item.text, done };
    case "command_execution":
      return {
        kind: "command",
        id: item.id,
        command: item.command,
        output: capOutput(item.output),
        exitCode: item.exitCode,
        status: item.status,
        durationMs: item.durationMs,
        done: done || item.status !== "in_progress",
      };
    case "file_change":
      return { kind: "files", id: item.id, changes: item.changes, status: item.status, error: item.error, done: done || item.status !== "in_progress" };
    case "approval":
      return { kind: "approval", id: item.id, request: item.request, decision: item.decision?.type, decidedBy: item.decidedBy, done: done || item.decision !== undefined };
    case "error":
      return { kind: "error", id: item.id, message: item.message };
    case "tool_call":
      return { kind: "notice", id: item.id, text: `tool ${item.name}: ${item.status}`, tone: "info" };
    case "plan":
      return undefined;
  }
}

/** Moves the leading finished live entries to `finished` (order kept), bounding both lists. */
function settle(state: TuiState): TuiState {
  let i = 0;
  while (i < state.live.length && isDone(state.live[i]!)) i++;
  let { finished, finishedEpoch } = state;
  let live = state.live;
  if (i > 0) {
    const moved = live.slice(0, i);
    live = live.slice(i);
    if (finished.length + moved.length > MAX_ENTRIES) {
      // What `finished` held is printed already: a fresh static block gets only the new entries.
      finished = moved;
      finishedEpoch++;
    } else finished = [...finished, ...moved];
  }
  if (live.length > MAX_ENTRIES) live = live.slice(live.length - MAX_ENTRIES);
  return finished === state.finished && live === state.live && finishedEpoch === state.finishedEpoch ? state : { ...state, finished, live, finishedEpoch };
}

function upsert(state: TuiState, entry: Entry): TuiState {
  // Printed already (it was finished): a late repeat of its completion changes nothing.
  if (state.finished.some((e) => e.id === entry.id)) return state;
  const at = state.live.findIndex((e) => e.id === entry.id);
  const live = at >= 0 ? state.live.map((e, j) => (j === at ? entry : e)) : [...state.live, entry];
  return { ...state, live };
}

function phaseOf(item: ThreadItem): Phase | undefined {
  if (item.type === "command_execution" && item.status === "in_progress") return "command";
  if (item.type === "approval" && !item.decision) return "approval";
  if (item.type === "agent_message") return "responding";
  return undefined;
}

function onItem(state: TuiState, event: Extract<ThreadEvent, { type: "item.started" | "item.updated" | "item.completed" }>): TuiState {
  const item = event.item;
  if (item.type === "plan") return { ...state, plan: { explanation: item.explanation, steps: item.steps } };
  let next = state;
  if (item.type === "file_change" && event.type === "item.completed") {
    const changes = { ...state.changes };
    for (const c of item.changes) if (item.status === "completed") changes[c.movePath ?? c.path] = c;
    next = { ...next, changes };
  }
  if (item.type === "approval") {
    const pending = item.decision ? next.pending.filter((r) => r.requestId !== item.request.requestId) : next.pending.some((r) => r.requestId === item.request.requestId) ? next.pending : [...next.pending, item.request];
    next = { ...next, pending };
  }
  const entry = entryOf(item, event.type === "item.completed");
  if (entry) next = upsert(next, entry);
  const phase = event.type === "item.completed" ? (next.pending.length ? "approval" : "thinking") : phaseOf(item);
  if (next.turn && phase) next = { ...next, turn: { ...next.turn, phase } };
  return settle(next);
}

function onDelta(state: TuiState, event: Extract<ThreadEvent, { type: "item.delta" }>): TuiState {
  const at = state.live.findIndex((e) => e.id === event.itemId);
  if (at < 0) return state;
  const e = state.live[at]!;
  let updated: Entry;
  if (e.kind === "command" && event.kind === "output") updated = { ...e, output: capOutput(e.output + event.delta) };
  else if ((e.kind === "agent" && event.kind === "text") || (e.kind === "reasoning" && event.kind === "reasoning")) updated = { ...e, text: e.text + event.delta };
  else return state;
  return { ...state, live: state.live.map((x, j) => (j === at ? updated : x)) };
}

function addUsage(a: Usage, b: Usage): Usage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    cachedInputTokens: a.cachedInputTokens + b.cachedInputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    reasoningOutputTokens: a.reasoningOutputTokens + b.reasoningOutputTokens,
  };
}

function notice(state: TuiState, text: string, tone: "info" | "warn" | "error" = "info"): TuiState {
  const entry: Entry = { kind: "notice", id: `notice-${state.nextNotice}`, text, tone };
  return settle({ ...state, live: [...state.live, entry], nextNotice: state.nextNotice + 1 });
}

/** Closes what the turn left open, so nothing shows as running after it ended. */
function endTurn(state: TuiState, usage: Usage): TuiState {
  const live = state.live.map((e): Entry => ("done" in e && !e.done ? { ...e, done: true, ...(e.kind === "command" && e.status === "in_progress" ? { status: "interrupted" } : {}) } : e));
  return settle({ ...state, live, turn: undefined, pending: [], usage: addUsage(state.usage, usage) });
}

function onEvent(state: TuiState, event: ThreadEvent, at: number): TuiState {
  switch (event.type) {
    case "thread.started":
      return { ...state, thread: event.thread };
    case "thread.settings_updated":
      // Another client (or this one) changed them: the status line shows what is in force.
      return state.thread && state.thread.threadId !== event.thread.threadId ? state : { ...state, thread: event.thread };
    case "turn.started":
      return { ...state, turn: { turnId: event.turnId, startedAt: at, phase: "thinking" }, plan: undefined };
    case "turn.completed":
      return endTurn(state, event.usage);
    case "turn.failed":
      return notice(endTurn(state, event.usage), `turn failed: ${event.error.message}`, "error");
    case "turn.interrupted":
      return notice(endTurn(state, event.usage), "turn interrupted", "warn");
    case "item.started":
    case "item.updated":
    case "item.completed":
      return onItem(state, event);
    case "item.delta":
      return onDelta(state, event);
    case "model.retrying": {
      // The partial answer of the failed attempt is dropped (the retry streams it again).
      const live = state.live.filter((e) => !((e.kind === "agent" || e.kind === "reasoning") && !e.done));
      return notice({ ...state, live }, `model: ${event.reason}; retrying (${event.attempt}/${event.maxAttempts})`, "warn");
    }
    case "warning":
      return notice(state, event.message, "warn");
  }
}

export function reduce(state: TuiState, action: TuiAction): TuiState {
  switch (action.type) {
    case "event":
      return onEvent(state, action.event, action.at);
    case "notice":
      return notice(state, action.text, action.tone);
    case "answered":
      return { ...state, pending: state.pending.filter((r) => r.requestId !== action.requestId) };
    case "settings":
      // Another thread's answer (after a quick /new) must not relabel this one.
      return state.thread && state.thread.threadId !== action.thread.threadId ? state : { ...state, thread: action.thread };
    case "reset":
      return { ...INITIAL_TUI_STATE, finishedEpoch: state.finishedEpoch, finished: state.finished, nextNotice: state.nextNotice };
    case "history": {
      let next = state;
      for (const item of action.items) {
        if (item.type === "plan") continue;
        const entry = entryOf(item, true);
        if (entry) next = upsert(next, entry);
      }
      return settle(next);
    }
  }
}

/** Applies a whole sequence (tests, replays). */
export function reduceAll(actions: Iterable<TuiAction>, state: TuiState = INITIAL_TUI_STATE): TuiState {
  for (const action of actions) state = reduce(state, action);
  return state;
}

// The pure half of `tether exec --json` (STYLE rule 22): one agent ThreadEvent and the state
// so far in, the JSONL events to print and the next state out. The sink (exec-command.ts)
// writes them. What is printed follows Codex's exec mode: agent messages and reasoning appear
// once, completed; commands and file changes start and complete; the plan is one todo_list
// item that starts, updates and completes when the turn ends; warnings are error items.
import type { ThreadEvent, ThreadItem } from "../../../services/agent-server/thread/thread-event.js";
import type { ExecItem, ExecJsonEvent } from "./exec-json-events.js";

export interface ExecMapState {
  readonly nextId: number;
  /** Items printed as started and not yet completed, by the agent's item id. */
  readonly open: ReadonlyMap<string, ExecItem>;
  /** The plan of this turn, as one todo_list item. */
  readonly todo?: Extract<ExecItem, { type: "todo_list" }>;
  /** The last agent message completed in the current turn (`-o FILE`). */
  readonly lastMessage?: string;
  /** How the last turn ended: what the exit code comes from. */
  readonly outcome?: "completed" | "failed";
}

export const INITIAL_EXEC_MAP_STATE: ExecMapState = Object.freeze({ nextId: 0, open: new Map<string, ExecItem>() });

export interface MapResult {
  events: ExecJsonEvent[];
  state: ExecMapState;
}

type Body<T> = T extends unknown ? Omit<T, "id"> : never;

/** The exec item for an agent item, without its id; undefined for items exec mode does not show. */
function itemBody(item: ThreadItem): Body<ExecItem> | undefined {
  switch (item.type) {
    case "agent_message":
      return { type: "agent_message", text: item.text };
    case "reasoning":
      return item.text.trim() === "" ? undefined : { type: "reasoning", text: item.text };
    case "command_execution":
      return {
        type: "command_execution",
        command: item.command,
        aggregated_output: item.output,
        exit_code: item.exitCode ?? null,
        status: item.status,
      };
    case "file_change":
      return {
        type: "file_change",
        changes: item.changes.map((c) => ({ path: c.movePath ?? c.path, kind: c.kind })),
        // Codex's file_change has no declined status: a declined patch did not apply.
        status: item.status === "declined" ? "failed" : item.status,
      };
    case "error":
      return { type: "error", message: item.message };
    default:
      // user_message (the prompt itself), approval (exec mode never asks), tool_call, plan (todo_list below).
      return undefined;
  }
}

function errorItem(state: ExecMapState, message: string): MapResult {
  return {
    events: [{ type: "item.completed", item: { id: `item_${state.nextId}`, type: "error", message } }],
    state: { ...state, nextId: state.nextId + 1 },
  };
}

function withOpen(state: ExecMapState, id: string, item: ExecItem | undefined): ExecMapState {
  const open = new Map(state.open);
  if (item) open.set(id, item);
  else open.delete(id);
  return { ...state, open };
}

/** Ends the turn: the todo list completes, items left open are closed as failed. */
function closeTurn(state: ExecMapState): MapResult {
  const events: ExecJsonEvent[] = [];
  if (state.todo) events.push({ type: "item.completed", item: state.todo });
  for (const item of state.open.values()) {
    const closed = "status" in item && item.status === "in_progress" ? { ...item, status: "failed" as const } : item;
    events.push({ type: "item.completed", item: closed });
  }
  return { events, state: { ...state, open: new Map(), todo: undefined } };
}

function mapItem(event: Extract<ThreadEvent, { type: "item.started" | "item.updated" | "item.completed" }>, state: ExecMapState): MapResult {
  const item = event.item;
  if (item.type === "plan") {
    const items = item.steps.map((s) => ({ text: s.step, completed: s.status === "completed" }));
    if (state.todo) {
      // The plan item's completion repeats its last update: nothing new to print.
      if (JSON.stringify(state.todo.items) === JSON.stringify(items)) return { events: [], state };
      const todo = { ...state.todo, items };
      return { events: [{ type: "item.updated", item: todo }], state: { ...state, todo } };
    }
    const todo = { id: `item_${state.nextId}`, type: "todo_list" as const, items };
    return { events: [{ type: "item.started", item: todo }], state: { ...state, nextId: state.nextId + 1, todo } };
  }
  const body = itemBody(item);
  if (!body) return { events: [], state };
  const known = state.open.get(item.id);
  const shown = known !== undefined;
  const id = known?.id ?? `item_${state.nextId}`;
  const next: ExecMapState = shown ? state : { ...state, nextId: state.nextId + 1 };
  // id first, as Codex prints it.
  const full: ExecItem = { id, ...body };
  if (event.type === "item.completed") {
    const after = withOpen(next, item.id, undefined);
    const lastMessage = full.type === "agent_message" ? full.text : after.lastMessage;
    return { events: [{ type: "item.completed", item: full }], state: { ...after, lastMessage } };
  }
  // Agent text and reasoning are printed once, complete (their deltas are for terminals).
  if (body.type === "agent_message" || body.type === "reasoning") return { events: [], state };
  // Codex prints no updates of a running command (its output arrives with the completion).
  if (event.type === "item.updated" && body.type === "command_execution") return { events: [], state: withOpen(state, item.id, full) };
  if (event.type === "item.updated" && !shown) return { events: [{ type: "item.started", item: full }], state: withOpen(next, item.id, full) };
  return { events: [{ type: event.type, item: full }], state: withOpen(next, item.id, full) };
}

export function mapEvent(event: ThreadEvent, state: ExecMapState): MapResult {
  switch (event.type) {
    case "thread.started":
      return { events: [{ type: "thread.started", thread_id: event.thread.threadId }], state };
    case "turn.started":
      return { events: [{ type: "turn.started" }], state: { ...state, lastMessage: undefined, outcome: undefined } };
    case "turn.completed": {
      const closed = closeTurn(state);
      const u = event.usage;
      // Codex 0.171.0 prints these five; tether does not see cache writes, so that one is 0.
      const usage = {
        input_tokens: u.inputTokens,
        cached_input_tokens: u.cachedInputTokens,
        cache_write_input_tokens: 0,
        output_tokens: u.outputTokens,
        reasoning_output_tokens: u.reasoningOutputTokens,
      };
      return { events: [...closed.events, { type: "turn.completed", usage }], state: { ...closed.state, outcome: "completed" } };
    }
    case "turn.failed":
    case "turn.interrupted": {
      const closed = closeTurn(state);
      const message = event.type === "turn.failed" ? event.error.message : "the turn was interrupted";
      // As Codex does: the error as an event of its own, then the turn's failure.
      return {
        events: [...closed.events, { type: "error", message }, { type: "turn.failed", error: { message } }],
        state: { ...closed.state, outcome: "failed" },
      };
    }
    case "item.started":
    case "item.updated":
    case "item.completed":
      return mapItem(event, state);
    case "model.retrying":
      return errorItem(state, `model request failed (${event.reason}); retrying in ${(event.delayMs / 1000).toFixed(1)} s (attempt ${event.attempt} of ${event.maxAttempts})`);
    case "warning":
      return errorItem(state, event.message);
    case "item.delta":
    // Codex's `exec --json` has no settings event; a change shows in the items that follow.
    case "thread.settings_updated":
      return { events: [], state };
  }
}

/** Maps a whole recorded sequence (tests, replays). */
export function mapEvents(events: Iterable<ThreadEvent>, state: ExecMapState = INITIAL_EXEC_MAP_STATE): MapResult {
  const out: ExecJsonEvent[] = [];
  for (const event of events) {
    const r = mapEvent(event, state);
    out.push(...r.events);
    state = r.state;
  }
  return { events: out, state };
}

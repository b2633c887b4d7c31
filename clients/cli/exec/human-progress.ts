// `tether exec` without --json: what a person watching a CI log wants on stderr, one event
// at a time — the thread, each command with the tail of its output and its exit, file
// changes, the plan, warnings, and how the turn ended. Pure: event in, lines out.
import type { ThreadEvent, ThreadItem } from "../../../services/agent-server/thread/thread-event.js";

/** Output lines shown per command: the last ones, which usually say why it failed. */
export const SHOWN_OUTPUT_LINES = 12;

function commandLines(item: Extract<ThreadItem, { type: "command_execution" }>): string[] {
  const lines = item.output.replace(/\n$/, "").split("\n").filter((l, i, all) => l !== "" || i < all.length - 1);
  const shown = lines.slice(-SHOWN_OUTPUT_LINES).map((l) => `  ${l}`);
  const cut = lines.length - shown.length;
  const took = item.durationMs !== undefined ? ` in ${(item.durationMs / 1000).toFixed(1)} s` : "";
  const end =
    item.status === "declined"
      ? "  declined (tether exec never asks: the model was told)"
      : item.exitCode !== undefined
        ? `  exit ${item.exitCode}${took}`
        : `  ${item.status}${took}`;
  return [...(cut > 0 ? [`  … ${cut} earlier lines`] : []), ...(item.output === "" ? [] : shown), end];
}

function completedItem(item: ThreadItem): string[] {
  switch (item.type) {
    case "reasoning":
      return item.text.trim() ? [`thinking: ${item.text.trim().split("\n")[0]}`] : [];
    case "agent_message":
      return ["", item.text, ""];
    case "command_execution":
      return commandLines(item);
    case "file_change":
      return item.changes.map((c) => `${c.kind === "add" ? "A" : c.kind === "delete" ? "D" : "M"} ${c.movePath ? `${c.path} → ${c.movePath}` : c.path}${item.status === "completed" ? "" : ` (${item.status}${item.error ? `: ${item.error}` : ""})`}`);
    case "plan":
      return [`plan:`, ...item.steps.map((s) => `  [${s.status === "completed" ? "x" : s.status === "in_progress" ? ">" : " "}] ${s.step}`)];
    case "approval":
      return item.decision ? [`approval ${item.decision.type}: ${item.request.reason}`] : [];
    case "tool_call":
      return [`tool ${item.name}: ${item.status}`];
    case "error":
      return [`error: ${item.message}`];
    case "user_message":
      return [];
  }
}

export function formatProgress(event: ThreadEvent): string[] {
  switch (event.type) {
    case "thread.started": {
      const t = event.thread;
      return [`tether exec · thread ${t.threadId} · model ${t.model} · env ${t.environment} · sandbox ${t.sandbox} · ${t.cwd}`];
    }
    case "item.started":
      if (event.item.type === "command_execution") return [`$ ${event.item.command}`];
      if (event.item.type === "plan") return completedItem(event.item);
      return [];
    case "item.updated":
      return event.item.type === "plan" ? completedItem(event.item) : [];
    case "item.completed":
      // A plan is shown as it changes; its completion repeats nothing.
      return event.item.type === "plan" ? [] : completedItem(event.item);
    case "turn.completed": {
      const u = event.usage;
      return [`turn completed · tokens: ${u.inputTokens} in (${u.cachedInputTokens} cached), ${u.outputTokens} out`];
    }
    case "turn.failed":
      return [`turn failed: ${event.error.message} (${event.error.code})`];
    case "turn.interrupted":
      return ["turn interrupted"];
    case "model.retrying":
      return [`model: ${event.reason}; retrying in ${(event.delayMs / 1000).toFixed(1)} s (${event.attempt}/${event.maxAttempts})`];
    case "warning":
      return [`warning: ${event.message}`];
    case "turn.started":
    case "item.delta":
    case "thread.settings_updated":
      return [];
  }
}

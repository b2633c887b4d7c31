import { describe, expect, it } from "vitest";
import { ItemTracker } from "./item-tracker.js";
import type { ThreadEvent, ThreadItem } from "./thread-event.js";

const cmd = (id: string, status: "in_progress" | "completed" = "in_progress"): ThreadItem => ({ type: "command_execution", id, callId: id, command: "x", cwd: "/", output: "", status });

describe("ItemTracker", () => {
  it("closeAll leaves an item kept open past the turn; its later deltas and completion still go out, once", () => {
    const events: ThreadEvent[] = [];
    const stored: ThreadItem[] = [];
    const t = new ItemTracker("turn-1", (e) => events.push(e), (i) => stored.push(i));
    t.started(cmd("a"));
    t.started(cmd("b"));
    t.keepOpen("b");
    t.closeAll();
    expect(events.map((e) => [e.type, "item" in e ? e.item.id : ""])).toEqual([["item.started", "a"], ["item.started", "b"], ["item.completed", "a"]]);
    t.delta("b", "output", "late");
    t.completed(cmd("b", "completed"));
    t.completed(cmd("b", "completed"));
    t.delta("b", "output", "after the end");
    expect(events.slice(3)).toEqual([
      { type: "item.delta", turnId: "turn-1", itemId: "b", kind: "output", delta: "late" },
      { type: "item.completed", turnId: "turn-1", item: cmd("b", "completed") },
    ]);
    expect(stored.map((i) => i.id)).toEqual(["a", "b"]);
  });

  it("closeAll completes a message or reasoning cut off mid-stream with the text streamed so far", () => {
    const events: ThreadEvent[] = [];
    const stored: ThreadItem[] = [];
    const t = new ItemTracker("turn-1", (e) => events.push(e), (i) => stored.push(i));
    t.started({ type: "reasoning", id: "r", text: "" });
    t.delta("r", "reasoning", "weighing ");
    t.delta("r", "reasoning", "options");
    t.started({ type: "agent_message", id: "m", text: "" });
    t.delta("m", "text", "thinking ");
    t.delta("m", "text", "about it");
    t.closeAll();
    expect(stored).toEqual([
      { type: "reasoning", id: "r", text: "weighing options" },
      { type: "agent_message", id: "m", text: "thinking about it" },
    ]);
    expect(events.filter((e) => e.type === "item.completed").map((e) => ("item" in e ? e.item : undefined))).toEqual(stored);
  });
});

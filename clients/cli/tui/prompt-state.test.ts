import { describe, expect, it } from "vitest";
import { INITIAL_PROMPT, MAX_HISTORY, type PromptAction, reducePrompt } from "./prompt-state.js";

const run = (actions: PromptAction[]) => actions.reduce(reducePrompt, INITIAL_PROMPT);

describe("reducePrompt", () => {
  it("walks the history with up and down, restoring what was being typed", () => {
    const s = run([{ type: "insert", text: "one" }, { type: "submit" }, { type: "insert", text: "two" }, { type: "submit" }, { type: "insert", text: "dra" }]);
    expect(s.history).toEqual(["one", "two"]);
    const up1 = reducePrompt(s, { type: "up" });
    expect(up1.text).toBe("two");
    expect(reducePrompt(up1, { type: "up" }).text).toBe("one");
    expect(reducePrompt(reducePrompt(up1, { type: "up" }), { type: "up" }).text).toBe("one");
    expect(reducePrompt(up1, { type: "down" }).text).toBe("dra");
  });

  it("keeps pasted lines (\\r from the terminal becomes \\n) and edits by characters", () => {
    const s = run([{ type: "insert", text: "a\r\nb\rc" }, { type: "backspace" }, { type: "insert", text: "é" }]);
    expect(s.text).toBe("a\nb\né");
    expect(reducePrompt(s, { type: "backspace" }).text).toBe("a\nb\n");
  });

  it("does not keep empty prompts or duplicates, and bounds the history", () => {
    let s = run([{ type: "insert", text: "  " }, { type: "submit" }]);
    expect(s.history).toEqual([]);
    s = run([{ type: "insert", text: "x" }, { type: "submit" }, { type: "insert", text: "y" }, { type: "submit" }, { type: "insert", text: "x" }, { type: "submit" }]);
    expect(s.history).toEqual(["y", "x"]);
    for (let i = 0; i < MAX_HISTORY + 10; i++) s = reducePrompt(reducePrompt(s, { type: "insert", text: `p${i}` }), { type: "submit" });
    expect(s.history.length).toBe(MAX_HISTORY);
  });
});

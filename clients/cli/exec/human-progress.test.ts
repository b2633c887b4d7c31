import { describe, expect, it } from "vitest";
import { COMMAND_TURN, DECLINED_TURN, FAILED_TURN, PLAN_TURN } from "../../../test/support/recorded-thread-events.js";
import { SHOWN_OUTPUT_LINES, formatProgress } from "./human-progress.js";

const lines = (events: Parameters<typeof formatProgress>[0][]) => events.flatMap(formatProgress);

describe("formatProgress", () => {
  it("shows the thread, each command with its output and exit, the answer and the token use", () => {
    expect(lines(COMMAND_TURN)).toEqual([
      "tether exec · thread th-1 · model gpt-test · env local · sandbox workspace-write · /work/repo",
      "thinking: look at the log",
      "$ make",
      "  cc -o app",
      "  ok",
      "  exit 0 in 0.8 s",
      "",
      "The build passes.",
      "",
      "turn completed · tokens: 1200 in (200 cached), 345 out",
    ]);
  });

  it("shows the plan as it changes, file changes, retries and warnings", () => {
    const out = lines(PLAN_TURN);
    expect(out).toContain("  [>] read");
    expect(out).toContain("  [x] patch");
    expect(out).toContain("M src/a.ts");
    expect(out).toContain("model: HTTP 429; retrying in 1.5 s (1/5)");
    expect(out).toContain("warning: AGENTS.md is larger than 32 KiB: cut");
  });

  it("says a command was declined and why a turn failed", () => {
    expect(lines(DECLINED_TURN)).toContain("  declined (tether exec never asks: the model was told)");
    expect(lines(FAILED_TURN).at(-1)).toBe("turn failed: the model server at http://127.0.0.1:1/v1 is unreachable (UNAVAILABLE)");
  });

  it("keeps only the last lines of long output, saying how many were left out", () => {
    const output = Array.from({ length: 50 }, (_, i) => `line ${i}`).join("\n") + "\n";
    const shown = formatProgress({
      type: "item.completed",
      turnId: "t",
      item: { type: "command_execution", id: "c", callId: "x", command: "seq", cwd: "/", output, exitCode: 1, status: "failed" },
    });
    expect(shown[0]).toBe(`  … ${50 - SHOWN_OUTPUT_LINES} earlier lines`);
    expect(shown.at(-2)).toBe("  line 49");
    expect(shown.at(-1)).toBe("  exit 1");
  });
});

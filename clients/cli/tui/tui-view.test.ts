// The screen drawn from view state alone, at a fixed width (no terminal, no agent): what a
// person sees for recorded turns. renderToString renders synchronously, so nothing waits.
import { renderToString } from "ink";
import { createElement } from "react";
import { describe, expect, it } from "vitest";
import type { ThreadEvent } from "../../../services/agent-server/thread/thread-event.js";
import { COMMAND_TURN, DECLINED_TURN, PLAN_TURN } from "../../../test/support/recorded-thread-events.js";
import { collapse } from "./entry-view.js";
import { INITIAL_PROMPT, reducePrompt } from "./prompt-state.js";
import { type TuiState, reduceAll } from "./tui-state.js";
import { TuiView } from "./tui-view.js";

const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");
const stateOf = (events: ThreadEvent[]): TuiState => reduceAll(events.map((event, i) => ({ type: "event" as const, event, at: 1000 + i })));
const draw = (state: TuiState, options: { now?: number; text?: string; columns?: number } = {}) =>
  strip(
    renderToString(
      createElement(TuiView, { state, prompt: reducePrompt(INITIAL_PROMPT, { type: "insert", text: options.text ?? "" }), now: options.now ?? 5000, width: (options.columns ?? 60) - 1 }),
      { columns: options.columns ?? 60 },
    ),
  );

describe("TuiView at 60 columns", () => {
  it("draws a finished turn: prompt, reasoning, the command with its exit, the answer, the idle status", () => {
    expect(draw(stateOf(COMMAND_TURN)).split("\n").map((l) => l.trimEnd())).toEqual([
      "",
      "› fix the build",
      "thinking: look at the log",
      "$ make",
      "  cc -o app",
      "  ok",
      "  exit 0 · 0.8s",
      "",
      "The build passes.",
      "",
      "gpt-test · local · workspace-write · 1545 tokens · /help for",
      " commands",
      "╭─────────────────────────────────────────────────────────╮",
      "│ ›                                                       │",
      "╰─────────────────────────────────────────────────────────╯",
    ]);
  });

  it("shows a running command live with the spinner, its phase and elapsed seconds", () => {
    const screen = draw(stateOf(COMMAND_TURN.slice(0, 10)), { now: 4100 });
    expect(screen).toMatch(/\$ make\n  cc -o app\n/);
    expect(screen).toMatch(/^. running a command · 3s · Ctrl-C to interrupt$/m);
  });

  it("draws the approval question with the keys it accepts", () => {
    const screen = draw(stateOf(DECLINED_TURN.slice(0, 2)), { columns: 80 });
    expect(screen).toMatch(/Allow the agent to run git push\?/);
    expect(screen).toMatch(/network access · in \/work\/repo/);
    expect(screen).toMatch(/\[y\] yes\s+\[a\] yes, this session\s+\[n\] no\s+\[c\] no, and stop/);
    expect(screen).not.toMatch(/\[r\]/); // no rule proposed, so no "add a rule"
    expect(screen).toMatch(/waiting for your answer/);
  });

  it("a network approval offers the rule its host implies and names the command that asks", () => {
    const request = { requestId: "n1", threadId: "th", turnId: "tu", callId: "c", action: { kind: "network" as const, host: "registry.npmjs.org", port: 443 }, reason: "a command wants to connect to registry.npmjs.org:443", promptKind: "sandbox_approval" as const, availableDecisions: ["accept" as const, "accept_for_session" as const, "accept_with_rule" as const, "decline" as const, "cancel" as const], command: "sleep 1; npm install" };
    const screen = draw(stateOf([{ type: "turn.started", turnId: "tu" }, { type: "item.started", turnId: "tu", item: { type: "approval", id: "n1", request } }]), { columns: 80 });
    expect(screen).toMatch(/Allow the agent to connect to registry\.npmjs\.org:443\?/);
    expect(screen).toMatch(/asked by: sleep 1; npm install/);
    expect(screen).toMatch(/rule: network host registry\.npmjs\.org → allow/);
    expect(screen).toMatch(/\[r\]/);
  });

  it("draws the plan as a checklist and a multi-line prompt", () => {
    const mid = stateOf(PLAN_TURN.slice(0, 2));
    const screen = draw(mid, { text: "line one\nline two" });
    expect(screen).toMatch(/Plan\n\[>\] read\n\[ \] patch/);
    expect(screen).toMatch(/│ › line one\s+│\n│   line two/);
  });

  it("collapses long output: the live tail while it runs, head and tail once done", () => {
    const lines = Array.from({ length: 30 }, (_, i) => `l${i}`);
    expect(collapse(lines, false)).toEqual(["… 24 lines above", "l24", "l25", "l26", "l27", "l28", "l29"]);
    expect(collapse(lines, true)).toEqual(["l0", "l1", "l2", "l3", "… 22 more lines (collapsed)", "l26", "l27", "l28", "l29"]);
    expect(collapse(lines.slice(0, 5), true)).toEqual(lines.slice(0, 5));
  });
});

import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { ABORTED_CALL_OUTPUT, MAX_STORED_GRANTS, conversationOf, parseRollout } from "./rollout-reader.js";

// A frozen rollout of format 1 (never regenerate it: a newer tether must keep reading it).
// It holds a completed turn with reasoning, an approval and a command; a failed turn rolled
// back; changed settings; and a crashed turn whose last line is torn mid-write.
const FIXTURE = new URL("./fixtures/rollout-format-1.jsonl", import.meta.url);

describe("parseRollout", () => {
  it("rebuilds the exact model input of the frozen format-1 fixture", async () => {
    const state = parseRollout(await readFile(FIXTURE, "utf8"), "rollout-format-1.jsonl");
    expect(state.thread).toMatchObject({ threadId: "thread_fixture1", model: "gpt-5.5-mini" });
    expect(state.turns.map((t) => [t.turnId, t.status, t.ended])).toEqual([
      ["turn_1", "completed", true],
      ["turn_3", "interrupted", false],
    ]);
    expect(conversationOf(state.turns)).toEqual([
      { type: "message", role: "user", text: "list the files" },
      { type: "reasoning", id: "rs_1", summary: ["Listing the directory."], encryptedContent: "gAAAA-opaque" },
      { type: "function_call", callId: "call_1", name: "exec_command", arguments: '{"cmd":"ls"}' },
      { type: "function_call_output", callId: "call_1", output: "README.md\nsrc\n" },
      { type: "message", role: "assistant", text: "Two entries: README.md and src." },
      { type: "message", role: "user", text: "count the lines of README.md" },
      { type: "function_call", callId: "call_2", name: "exec_command", arguments: '{"cmd":"wc -l README.md"}' },
      // The torn output line is ignored; the call is answered as aborted, never left open.
      { type: "function_call_output", callId: "call_2", output: ABORTED_CALL_OUTPUT },
    ]);
    expect(state.danglingCalls).toEqual([{ turnId: "turn_3", callId: "call_2" }]);
    expect(state.warnings).toEqual([expect.stringMatching(/ignored a torn last line/)]);
    expect(state.turns[0]!.items.map((i) => i.type)).toEqual(["user_message", "reasoning", "approval", "command_execution", "agent_message"]);
  });

  it("refuses damage before the last line and a newer format, naming the file", () => {
    const meta = JSON.stringify({ t: "meta", format: 1, thread: { threadId: "t" } });
    expect(() => parseRollout(`${meta}\n{oops\n${JSON.stringify({ t: "turn", turnId: "x", at: "" })}\n`, "f.jsonl")).toThrow(/f\.jsonl:2: the rollout line is not JSON/);
    expect(() => parseRollout(`${JSON.stringify({ t: "meta", format: 2, thread: {} })}\n`, "g.jsonl")).toThrow(/g\.jsonl: rollout format 2 is newer/);
    expect(() => parseRollout(`${JSON.stringify({ t: "turn", turnId: "x", at: "" })}\n`, "h.jsonl")).toThrow(/does not start with its meta line/);
  });
});

describe("parseRollout: exec sessions and writable roots", () => {
  const info = { threadId: "thread_x", createdAt: "t", updatedAt: "t", cwd: "/w", environment: "unix:///s", model: "m", sandbox: "workspace-write", approvalPolicy: "on-request", preview: "" };
  const session = (sessionId: number, cursor: string) => ({ sessionId, processId: `ue.thread_x.c${sessionId}`, turnId: "turn_1", command: "cat", cwd: "/w", tty: true, cursor });
  const lines = (...records: object[]) => records.map((r) => JSON.stringify(r)).join("\n") + "\n";

  it("keeps the last checkpoint of each running session, drops closed ones, and counts ids past every one handed out", () => {
    const state = parseRollout(
      lines(
        { t: "meta", format: 1, thread: info, execSessionId: "agent.thread_x", writableRoots: ["/extra"] },
        { t: "exec", session: session(1000, "3") },
        { t: "exec", session: session(1001, "1") },
        { t: "exec", session: session(1000, "9") },
        { t: "exec_closed", sessionId: 1001 },
        { t: "settings", thread: info, writableRoots: ["/other"] },
      ),
      "x.jsonl",
    );
    expect(state.execSessionId).toBe("agent.thread_x");
    expect(state.execSessions).toEqual([session(1000, "9")]);
    expect(state.execNextId).toBe(1002);
    expect(state.writableRoots).toEqual(["/other"]);
  });

  it("a file from before exec records: no session id, no roots, nothing to restore", () => {
    const state = parseRollout(lines({ t: "meta", format: 1, thread: info }), "old.jsonl");
    expect(state.execSessionId).toBeUndefined();
    expect(state.writableRoots).toEqual([]);
    expect(state.execSessions).toEqual([]);
    expect(state.execNextId).toBe(0);
  });

  it("collects session grants since the last grants_cleared, newest kept when over the cap", () => {
    const meta = JSON.stringify({ t: "meta", format: 1, thread: { threadId: "t" } });
    const grant = (host: string) => JSON.stringify({ t: "grant", action: { kind: "network", host, port: 443 } });
    const lines = [meta, grant("old.example"), JSON.stringify({ t: "grants_cleared", reason: "new exec session" }), grant("a.example"), grant("b.example")];
    expect(parseRollout(`${lines.join("\n")}\n`, "f.jsonl").sessionGrants).toEqual([
      { kind: "network", host: "a.example", port: 443 },
      { kind: "network", host: "b.example", port: 443 },
    ]);
    const many = [meta, ...Array.from({ length: MAX_STORED_GRANTS + 2 }, (_, i) => grant(`h${i}.example`))];
    const kept = parseRollout(`${many.join("\n")}\n`, "g.jsonl").sessionGrants;
    expect(kept).toHaveLength(MAX_STORED_GRANTS);
    expect(kept[0]).toMatchObject({ host: "h2.example" });
  });
});

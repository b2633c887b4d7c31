// exec_command and write_stdin against a real in-process exec server: real shells, PTYs and
// process groups. Yields end on events (output seen, or the process exiting), never on
// elapsed time, except where a yield is meant to pass with nothing to wait for.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcessState } from "../../../../gen/tether/exec/v1/process_pb.js";
import type { Environment } from "../../../../clients/environment/environment.js";
import { LocalEnvironment } from "../../../../clients/environment/local-environment.js";
import { type FakeContextOptions, RecordingEmitter, fakeToolContext } from "../../../../test/support/fake-tool-context.js";
import { buildToolRegistry } from "../tool-registry.js";
import { execCommandTool } from "./exec-command-tool.js";
import { LABEL_THREAD, LABEL_TURN, UnifiedExecSessions, type YieldTimer, realYieldTimer } from "./unified-exec-sessions.js";
import { writeStdinTool } from "./write-stdin-tool.js";

let env: Environment;
let dir: string;
let yieldWith: YieldTimer = realYieldTimer;
let threads = 0;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "tether-exec-tool-"));
  env = await LocalEnvironment.create({ defaultCwd: dir });
});
afterAll(async () => {
  await env?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A thread: its sessions and registry; yields end as the test says (`yieldWith`). */
function thread(maxSessions?: number) {
  const threadId = `thread-${++threads}`;
  const sessions = new UnifiedExecSessions({ env, threadId, maxSessions, yieldTimer: (ms, signal) => yieldWith(ms, signal) });
  const registry = buildToolRegistry([execCommandTool(sessions), writeStdinTool(sessions)]);
  const item = new RecordingEmitter();
  const call = async (name: string, args: object, o: Partial<FakeContextOptions> = {}) => {
    const ctx = fakeToolContext({ env, cwd: dir, threadId, item, ...o });
    const result = await registry.call(name, JSON.stringify(args), ctx);
    return { ...result, ctx, session: /session ID (\d+)/.exec(result.output)?.[1] };
  };
  return { threadId, sessions, call, item };
}

/** A yield that ends once `item`'s output matches `pattern` (or the process exits first). */
const untilOutput = (item: RecordingEmitter, itemId: string, pattern: RegExp): YieldTimer => () => item.waitForOutput(itemId, pattern);
/** A yield over at once: for commands that have nothing to say yet. */
const immediate: YieldTimer = async () => {};
/** A yield that only the process's exit ends. */
const untilExit: YieldTimer = (_ms, signal) => new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));

async function running(labels: Record<string, string>): Promise<string[]> {
  return (await env.processes.list({ labels })).filter((p) => p.state === ProcessState.RUNNING).map((p) => p.processId);
}

describe("exec_command", () => {
  it("runs a command to its exit: output, exit code, item started → deltas → completed", async () => {
    yieldWith = untilExit;
    const t = thread();
    const r = await t.call("exec_command", { cmd: "echo hello; echo oops >&2; exit 3", login: false }, { callId: "c1" });
    expect(r.success).toBe(false);
    expect(r.output).toMatch(/^Wall time: \d+\.\d{4} seconds\nProcess exited with code 3\nOutput:\n/);
    expect(r.output).toContain("hello\n");
    expect(r.output).toContain("oops\n");
    expect(r.session).toBeUndefined();
    expect(t.sessions.size).toBe(0);
    const kinds = t.item.events.map((e) => e.kind);
    expect(kinds[0]).toBe("started");
    expect(kinds.at(-1)).toBe("completed");
    expect(t.item.events.at(-1)).toMatchObject({ item: { type: "command_execution", id: "cmd-c1", callId: "c1", command: "echo hello; echo oops >&2; exit 3", cwd: dir, exitCode: 3, status: "failed" } });
    expect(t.item.output("cmd-c1")).toMatch(/hello\n/);
    expect(r.ctx.asked).toEqual([{ kind: "command", commandLine: "echo hello; echo oops >&2; exit 3", argv: ["bash", "-c", "echo hello; echo oops >&2; exit 3"], cwd: dir, escalated: false }]);
  });

  it("yields a long command with a session id, and write_stdin continues it on its PTY", async () => {
    const t = thread();
    yieldWith = untilOutput(t.item, "cmd-c2", /ready/);
    const cmd = "echo ready; read line; echo got:$line; echo done";
    const first = await t.call("exec_command", { cmd, login: false, tty: true }, { callId: "c2" });
    expect(first.success).toBe(true);
    expect(first.output).toMatch(/Process running with session ID 1000\nOutput:\n/);
    expect(first.output).toContain("ready");
    expect(t.item.events.at(-1)).toMatchObject({ kind: "updated", item: { sessionId: "1000", status: "in_progress" } });
    yieldWith = untilExit;
    const second = await t.call("write_stdin", { session_id: 1000, chars: "hello\n" }, { callId: "c3" });
    expect(second.output).toMatch(/Process exited with code 0\nOutput:\n/);
    expect(second.output).toContain("got:hello");
    expect(second.output).toContain("done");
    // One item for the command across both calls, completed once.
    expect(t.item.events.filter((e) => e.kind === "started")).toHaveLength(1);
    expect(t.item.events.filter((e) => e.kind === "completed")).toEqual([expect.objectContaining({ item: expect.objectContaining({ id: "cmd-c2", exitCode: 0, status: "completed" }) })]);
    expect(t.item.output("cmd-c2")).toMatch(/ready[\s\S]*got:hello[\s\S]*done/);
    const again = await t.call("write_stdin", { session_id: 1000, chars: "" });
    expect(again).toMatchObject({ success: false });
    expect(again.output).toMatch(/^Unknown session ID 1000/);
  });

  it("polls a pipe session with empty chars; non-empty chars need a tty", async () => {
    const t = thread();
    const flag = path.join(dir, `flag-${t.threadId}`);
    yieldWith = untilOutput(t.item, "cmd-p1", /one/);
    const first = await t.call("exec_command", { cmd: `echo one; while [ ! -e '${flag}' ]; do sleep 0.02; done; echo two`, login: false }, { callId: "p1" });
    expect(first.session).toBe("1000");
    const refused = await t.call("write_stdin", { session_id: 1000, chars: "x" });
    expect(refused).toMatchObject({ success: false, output: "stdin is closed for this session; rerun exec_command with tty=true to keep stdin open" });
    await mkdir(flag);
    yieldWith = untilExit;
    const poll = await t.call("write_stdin", { session_id: 1000 });
    expect(poll.output).toMatch(/Process exited with code 0\nOutput:\ntwo\n$/);
  });

  it("a yield that passes returns what there is and leaves the command running", async () => {
    yieldWith = realYieldTimer;
    const t = thread();
    const r = await t.call("exec_command", { cmd: "sleep 60", login: false, yield_time_ms: 1 }, { turnId: "turn-slow" });
    expect(r.output).toMatch(/Process running with session ID 1000\nOutput:\n$/);
    expect(await running({ [LABEL_THREAD]: t.threadId })).toHaveLength(1);
    await t.sessions.closeAll();
    expect(await running({ [LABEL_THREAD]: t.threadId })).toEqual([]);
  });

  it("cuts the model's output head+tail and says how much was cut", async () => {
    yieldWith = untilExit;
    const t = thread();
    const r = await t.call("exec_command", { cmd: "seq 1 20000", login: false, max_output_tokens: 100 });
    const total = Array.from({ length: 20000 }, (_, i) => `${i + 1}\n`).join("").length;
    expect(r.output).toContain(`Original token count: ${Math.ceil(total / 4)}\nOutput:\n1\n2\n3\n`);
    expect(r.output).toMatch(/\n19999\n20000\n$/);
    expect(r.output).toContain(`[… ${total - 400} bytes (about ${Math.ceil((total - 400) / 4)} tokens) cut from the middle …]`);
    // The item keeps more than the model's share.
    expect(t.item.output(`cmd-${r.ctx.callId}`).length).toBe(total);
  });

  it("keeps at most maxSessions running per thread, ending the least recently used", async () => {
    yieldWith = immediate;
    const t = thread(2);
    const a = await t.call("exec_command", { cmd: "sleep 60", login: false });
    const b = await t.call("exec_command", { cmd: "sleep 61", login: false });
    // Using a makes b the least recently used.
    await t.call("write_stdin", { session_id: Number(a.session) });
    const c = await t.call("exec_command", { cmd: "sleep 62", login: false });
    expect(c.output).toContain(`Note: ended session ${b.session} (least recently used) to stay within 2 running sessions.`);
    expect(t.sessions.ids()).toEqual([Number(a.session), Number(c.session)]);
    const left = await running({ [LABEL_THREAD]: t.threadId });
    expect(left.sort()).toEqual([t.sessions.processIdFor(a.ctx.callId), t.sessions.processIdFor(c.ctx.callId)].sort());
    expect((await t.call("write_stdin", { session_id: Number(b.session) })).output).toMatch(/^Unknown session ID/);
    await t.sessions.closeAll();
  });

  it("terminateTurn ends every process group the turn started and nothing else", async () => {
    const t = thread();
    yieldWith = untilOutput(t.item, "cmd-bg1", /bg=\d+/);
    await t.call("exec_command", { cmd: "sleep 60 & echo bg=$!; wait", login: false }, { turnId: "turn-a", callId: "bg1" });
    const pid = Number(/bg=(\d+)/.exec(t.item.output("cmd-bg1"))?.[1]);
    expect(pid).toBeGreaterThan(0);
    yieldWith = immediate;
    await t.call("exec_command", { cmd: "sleep 61", login: false }, { turnId: "turn-a" });
    await t.call("exec_command", { cmd: "sleep 62", login: false }, { turnId: "turn-b" });
    expect(await running({ [LABEL_THREAD]: t.threadId, [LABEL_TURN]: "turn-a" })).toHaveLength(2);
    const ended = await t.sessions.terminateTurn("turn-a");
    expect(ended).toHaveLength(2);
    expect(await running({ [LABEL_THREAD]: t.threadId, [LABEL_TURN]: "turn-a" })).toEqual([]);
    expect(await running({ [LABEL_THREAD]: t.threadId, [LABEL_TURN]: "turn-b" })).toHaveLength(1);
    // The background child went with its group.
    expect(await gone(pid)).toBe(true);
    await t.sessions.closeAll();
    expect(await running({ [LABEL_THREAD]: t.threadId })).toEqual([]);
  });

  it("a refused command is not run and the model is told why", async () => {
    const t = thread();
    const r = await t.call("exec_command", { cmd: "touch nope", sandbox_permissions: "require_escalated", justification: "needs it" }, {
      authorize: () => ({ allowed: false, reason: "rm-like commands need approval", by: "user", cancelTurn: false }),
    });
    expect(r).toMatchObject({ success: false, output: "The command was not run: the user declined it: rm-like commands need approval" });
    expect(r.ctx.asked[0]).toMatchObject({ kind: "command", escalated: true, justification: "needs it" });
    expect(t.item.events.at(-1)).toMatchObject({ kind: "completed", item: { status: "declined" } });
  });

  it("a sandbox refusal is retried without the sandbox when policy allows", async () => {
    yieldWith = untilExit;
    const t = thread();
    const ws = path.join(dir, `ws-${t.threadId}`);
    await mkdir(path.join(ws, ".git"), { recursive: true });
    // .git stays read-only inside a writable root: the sandboxed write fails, the retry works.
    const r = await t.call("exec_command", { cmd: "echo changed > .git/config", login: false }, { cwd: ws, sandbox: "workspace-write", writableRoots: [ws] });
    expect(r.ctx.asked.map((a) => a.kind)).toEqual(["command", "retry_unsandboxed"]);
    expect(r.ctx.asked[1]).toMatchObject({ failure: expect.stringMatching(/Read-only file system|Permission denied/) });
    expect(r.output).toContain("the command was run again without the sandbox");
    expect(r.output).toContain("Process exited with code 0");
    expect(await readFile(path.join(ws, ".git/config"), "utf8")).toBe("changed\n");
  });

  it("a sandbox refusal stays a failure when the retry is declined", async () => {
    yieldWith = untilExit;
    const t = thread();
    const ws = path.join(dir, `ws-${t.threadId}`);
    await mkdir(path.join(ws, ".git"), { recursive: true });
    const r = await t.call("exec_command", { cmd: "echo changed > .git/config", login: false }, {
      cwd: ws,
      sandbox: "workspace-write",
      writableRoots: [ws],
      authorize: (a) => (a.kind === "command" ? { allowed: true, unsandboxed: false } : { allowed: false, reason: "no", by: "policy", cancelTurn: false }),
    });
    expect(r.success).toBe(false);
    expect(r.output).toMatch(/Process exited with code 1/);
  });

  it("an abort during a yield propagates; the process is left for terminateTurn", async () => {
    const t = thread();
    const abort = new AbortController();
    yieldWith = untilExit;
    const call = t.call("exec_command", { cmd: "echo started; sleep 60", login: false }, { callId: "ab1", turnId: "turn-ab", signal: abort.signal });
    await t.item.waitForOutput("cmd-ab1", /started/);
    abort.abort(new Error("interrupted"));
    await expect(call).rejects.toThrow("interrupted");
    expect(await running({ [LABEL_THREAD]: t.threadId, [LABEL_TURN]: "turn-ab" })).toHaveLength(1);
    await t.sessions.terminateTurn("turn-ab");
    expect(await running({ [LABEL_THREAD]: t.threadId })).toEqual([]);
  });

  it("write_stdin in a later turn carries on the command's one item, kept open past its turn", async () => {
    const t = thread();
    yieldWith = untilOutput(t.item, "cmd-t1", /ready/);
    const first = await t.call("exec_command", { cmd: "echo ready; read x; echo bye:$x", login: false, tty: true }, { callId: "t1", turnId: "turn-1" });
    expect(t.item.kept.has("cmd-t1")).toBe(true);
    const later = new RecordingEmitter();
    yieldWith = untilExit;
    const r = await t.call("write_stdin", { session_id: Number(first.session), chars: "z\n" }, { callId: "t2", turnId: "turn-2", item: later });
    expect(r.output).toContain("bye:z");
    expect(later.events).toEqual([]);
    expect(t.item.output("cmd-t1")).toMatch(/bye:z/);
    expect(t.item.events.filter((e) => e.kind === "completed")).toMatchObject([{ item: { id: "cmd-t1", sessionId: first.session, exitCode: 0, status: "completed" } }]);
  });

  it("streams output to the item between calls and completes it when the process exits after the call returned", async () => {
    const t = thread();
    const flag = path.join(dir, `go-${t.threadId}`);
    yieldWith = untilOutput(t.item, "cmd-bg1", /one/);
    const r = await t.call("exec_command", { cmd: `echo one; while [ ! -e '${flag}' ]; do sleep 0.01; done; echo two; exit 4`, login: false }, { callId: "bg1" });
    expect(r.output).toMatch(/Process running with session ID/);
    expect(t.item.events.some((e) => e.kind === "completed")).toBe(false);
    await writeFile(flag, "");
    // No call is in flight: the session's reader delivers the rest and closes the item.
    await t.item.waitFor((e) => e.kind === "completed");
    expect(t.item.output("cmd-bg1")).toBe("one\ntwo\n");
    expect(t.item.events.at(-1)).toMatchObject({ kind: "completed", item: { id: "cmd-bg1", exitCode: 4, status: "failed", output: "one\ntwo\n" } });
    // The model still gets what it has not seen, and the exit, on its next call.
    yieldWith = untilExit;
    const next = await t.call("write_stdin", { session_id: Number(r.session) });
    expect(next.output).toMatch(/Process exited with code 4\nOutput:\ntwo\n$/);
    expect(t.item.events.filter((e) => e.kind === "completed")).toHaveLength(1);
  });

  it("a patch run through the shell is applied as apply_patch", async () => {
    const t = thread();
    const sub = path.join(dir, `shellpatch-${t.threadId}`);
    await mkdir(sub);
    const r = await t.call("exec_command", { cmd: `cd ${path.basename(sub)} && apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: p.txt\n+patched\n*** End Patch\nEOF` });
    expect(r).toMatchObject({ success: true, output: "Success. Updated the following files:\nA p.txt\n" });
    expect(await readFile(path.join(sub, "p.txt"), "utf8")).toBe("patched\n");
    expect(r.ctx.asked).toEqual([{ kind: "file_change", paths: [path.join(sub, "p.txt")], outsideWritableRoots: false }]);
  });

  it("streams at most 1 MiB of deltas per item; the item keeps head and tail", async () => {
    yieldWith = untilExit;
    const t = thread();
    const r = await t.call("exec_command", { cmd: "head -c 3000000 /dev/zero | tr '\\0' a; echo; echo END", login: false, max_output_tokens: 10 }, { callId: "big" });
    expect(r.output).toMatch(/Process exited with code 0/);
    const streamed = t.item.output("cmd-big");
    expect(streamed.length).toBeLessThan((1 << 20) + 70_000);
    expect(streamed).toMatch(/output beyond 1 MiB is not streamed/);
    const done = t.item.events.at(-1);
    if (done?.kind !== "completed" || done.item.type !== "command_execution") throw new Error("not completed");
    expect(done.item.output).toMatch(/^a+\n\[… \d+ bytes .* cut from the middle …\]\na+\nEND\n$/);
  });

  it("^C through write_stdin interrupts a PTY command", async () => {
    const t = thread();
    yieldWith = untilOutput(t.item, "cmd-int1", /waiting/);
    const first = await t.call("exec_command", { cmd: "echo waiting; sleep 60", login: false, tty: true }, { callId: "int1" });
    yieldWith = untilExit;
    const r = await t.call("write_stdin", { session_id: Number(first.session), chars: "\u0003" });
    expect(r.output).toMatch(/Process exited with code 130/);
  });

  it("a huge writer between calls: the session keeps head and tail only, and the model sees how much was cut", async () => {
    const t = thread();
    yieldWith = untilOutput(t.item, "cmd-huge1", /start/);
    const first = await t.call("exec_command", { cmd: "echo start; head -c 67108864 /dev/zero | tr '\\0' a; echo; echo END", login: false }, { callId: "huge1" });
    await t.item.waitFor((e) => e.kind === "completed");
    yieldWith = untilExit;
    const r = await t.call("write_stdin", { session_id: Number(first.session), max_output_tokens: 1 << 20 });
    const cut = /\[… (\d+) bytes \(about \d+ tokens\) cut from the middle …\]/.exec(r.output);
    // What the first yield took is not fixed; the rest was cut to the call's 1 MiB budget.
    const original = Number(/Original token count: (\d+)\n/.exec(r.output)?.[1]) * 4;
    expect(original).toBeGreaterThan(63 << 20);
    expect(Number(cut?.[1])).toBeGreaterThan(original - (1 << 20) - 4);
    expect(r.output.length).toBeLessThan((1 << 20) + 400);
    expect(r.output.endsWith("a\nEND\n")).toBe(true);
  });

  it("a session whose process the exec server no longer knows is a failed call and is forgotten", async () => {
    const t = thread();
    const ghost = t.sessions.add({ processId: "ue.no-such-process", turnId: "turn-1", callId: "c-test", command: "x", cwd: dir, tty: false, startedAt: 0, item: undefined });
    yieldWith = untilExit;
    const r = await t.call("write_stdin", { session_id: ghost.id });
    expect(r.success).toBe(false);
    expect(r.output).toMatch(new RegExp(`^write_stdin failed: could not read the output of session ${ghost.id}: `));
    expect(t.sessions.ids()).toEqual([]);
  });

  it("a character split across output chunks arrives whole, in deltas and for the model", async () => {
    yieldWith = untilExit;
    const t = thread();
    const r = await t.call("exec_command", { cmd: "printf 'caf\\303'; sleep 0.05; printf '\\251\\n'", login: false }, { callId: "utf1" });
    expect(r.output).toMatch(/Output:\ncafé\n$/);
    expect(t.item.output("cmd-utf1")).toBe("café\n");
  });

  it("a command that cannot start is a failed call, not a thrown error", async () => {
    const t = thread();
    const r = await t.call("exec_command", { cmd: "true", workdir: "/nonexistent/dir", login: false });
    expect(r.success).toBe(false);
    expect(r.output).toMatch(/^exec_command could not start the command: /);
  });
});

/** Waits (bounded) for a pid to disappear: a killed process is reaped a moment after its group's leader. */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

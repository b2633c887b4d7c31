import { describe, expect, it } from "vitest";
import type { Environment } from "../../../../clients/environment/environment.js";
import { tmpdir } from "node:os";
import { LocalEnvironment } from "../../../../clients/environment/local-environment.js";
import { ProcessState } from "../../../../gen/tether/exec/v1/process_pb.js";
import { LABEL_THREAD, UnifiedExecSessions } from "./unified-exec-sessions.js";

const sessions = (threadId: string) => new UnifiedExecSessions({ env: {} as Environment, threadId });
const VALID = /^[A-Za-z0-9._:-]{1,128}$/;

describe("UnifiedExecSessions ids", () => {
  it("process ids embed the thread and the call, in Start's alphabet", () => {
    const s = sessions("0b6f3c2e-7a4d-4b1e-9f0a-1c2d3e4f5a6b");
    expect(s.processIdFor("call_abc")).toBe("ue.0b6f3c2e-7a4d-4b1e-9f0a-1c2d3e4f5a6b.call_abc");
    expect(s.processIdFor("call/with spaces", ".unsandboxed")).toBe("ue.0b6f3c2e-7a4d-4b1e-9f0a-1c2d3e4f5a6b.call_with_spaces.unsandboxed");
  });

  it("stays within 128 characters and distinct for long ids", () => {
    const s = sessions("t".repeat(100));
    const a = s.processIdFor(`call_${"x".repeat(100)}a`);
    const b = s.processIdFor(`call_${"x".repeat(100)}b`, ".unsandboxed");
    for (const id of [a, b]) expect(id).toMatch(VALID);
    expect(a).not.toBe(b.replace(".unsandboxed", ""));
  });

  it("hands out short numbers from 1000 and tracks the least recently used", () => {
    const s = sessions("t");
    const base = { turnId: "u", command: "x", cwd: "/", tty: false, startedAt: 0, item: undefined, cursor: 0n, decoder: new TextDecoder() };
    const a = s.add({ ...base, processId: "p1", callId: "c1" });
    const b = s.add({ ...base, processId: "p2", callId: "c2", command: "sleep 1; curl h" });
    expect([a.id, b.id]).toEqual([1000, 1001]);
    // A process asking the exec layer something is traced to the call that started it.
    expect(s.originOf("p2")).toEqual({ turnId: "u", callId: "c2", command: "sleep 1; curl h" });
    expect(s.originOf("p3")).toBeUndefined();
    s.get(a.id);
    expect(a.lastUsed).toBeGreaterThan(b.lastUsed);
    s.remove(a);
    expect(s.ids()).toEqual([1001]);
    expect(s.get(1000)).toBeUndefined();
  });
});

describe("UnifiedExecSessions.restore (a real in-process exec session)", () => {
  it("takes back recorded processes, ends unrecorded ones of the thread, remembers the lost ids and journals from there on", async () => {
    await using env = await LocalEnvironment.create({ defaultCwd: tmpdir() });
    const journal: string[] = [];
    const s = new UnifiedExecSessions({
      env,
      threadId: "th",
      journal: { running: (r) => journal.push(`running ${r.sessionId} ${r.cursor}`), closed: (id) => journal.push(`closed ${id}`) },
    });
    const start = (processId: string, threadId = "th") => env.processes.start(processId, { argv: ["sleep", "600"], labels: { [LABEL_THREAD]: threadId } });
    await start("ue.th.kept");
    await start("ue.th.orphan");
    await start("ue.other.not-mine", "other");
    const record = (sessionId: number, processId: string) => ({ sessionId, processId, turnId: "turn_1", command: "sleep 600", cwd: "/", tty: false, cursor: "0" });
    const result = await s.restore({ sessions: [record(1003, "ue.th.kept"), record(1004, "ue.th.gone")], nextId: 1005 });
    expect(result).toEqual({ restored: [1003], lost: [1004] });
    expect(s.ids()).toEqual([1003]);
    expect(s.wasLost(1004)).toBe(true);
    const running = async (processId: string) => (await env.processes.list({ includeExited: true, allSessions: true })).find((p) => p.processId === processId)?.state === ProcessState.RUNNING;
    // The orphan (a call whose result was never recorded) is ended; another thread's process is left alone.
    await env.processes.wait("ue.th.orphan");
    expect(await running("ue.th.orphan")).toBe(false);
    expect(await running("ue.th.kept")).toBe(true);
    expect(await running("ue.other.not-mine")).toBe(true);
    // New ids start past every id the rollout knew; the restored session's end is journaled.
    const next = s.add({ processId: "ue.th.new", turnId: "turn_2", callId: "c-test", command: "x", cwd: "/", tty: false, startedAt: 0, item: undefined });
    expect(next.id).toBe(1005);
    s.remove(s.get(1003)!);
    expect(journal).toEqual(["closed 1003"]);
    await env.processes.terminate("ue.th.kept");
    await env.processes.terminate("ue.other.not-mine");
  });
});

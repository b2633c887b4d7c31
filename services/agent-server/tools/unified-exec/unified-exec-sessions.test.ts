import { describe, expect, it } from "vitest";
import type { Environment } from "../../../../clients/environment/environment.js";
import { UnifiedExecSessions } from "./unified-exec-sessions.js";

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
    const a = s.add({ ...base, processId: "p1" });
    const b = s.add({ ...base, processId: "p2" });
    expect([a.id, b.id]).toEqual([1000, 1001]);
    s.get(a.id);
    expect(a.lastUsed).toBeGreaterThan(b.lastUsed);
    s.remove(a);
    expect(s.ids()).toEqual([1001]);
    expect(s.get(1000)).toBeUndefined();
  });
});

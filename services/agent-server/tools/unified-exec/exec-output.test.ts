import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ExitStatusSchema } from "../../../../gen/tether/exec/v1/process_pb.js";
import { clampMs, execResult, outputBudgetBytes } from "./exec-output.js";

describe("exec output", () => {
  it("clamps yields and defaults missing or non-finite values", () => {
    expect(clampMs(undefined, 10_000, 250, 30_000)).toBe(10_000);
    expect(clampMs(1, 10_000, 250, 30_000)).toBe(250);
    expect(clampMs(99_999, 10_000, 250, 30_000)).toBe(30_000);
    expect(clampMs(Number.NaN, 10_000, 250, 30_000)).toBe(10_000);
    expect(clampMs(1234.6, 10_000, 250, 30_000)).toBe(1235);
  });

  it("counts a token as four bytes, within bounds", () => {
    expect(outputBudgetBytes(undefined)).toBe(40_000);
    expect(outputBudgetBytes(100)).toBe(400);
    expect(outputBudgetBytes(0)).toBe(4);
    expect(outputBudgetBytes(1e12)).toBe(1 << 20);
  });

  it("lays out an exited and a running result as Codex does", () => {
    const exited = execResult({ wallMs: 1234.5, collected: { text: "hi\n", totalBytes: 3, truncated: false, exit: create(ExitStatusSchema, { code: 0 }) }, sessionId: 1000 });
    expect(exited).toEqual({ success: true, output: "Wall time: 1.2345 seconds\nProcess exited with code 0\nOutput:\nhi\n" });
    const running = execResult({ wallMs: 250, collected: { text: "a…b", totalBytes: 4000, truncated: true }, sessionId: 1001, notes: ["Note: x"] });
    expect(running).toEqual({ success: true, output: "Note: x\nWall time: 0.2500 seconds\nProcess running with session ID 1001\nOriginal token count: 1000\nOutput:\na…b" });
    const killed = execResult({ wallMs: 0, collected: { text: "", totalBytes: 0, truncated: false, exit: create(ExitStatusSchema, { signal: 15, signalName: "SIGTERM", reason: "terminated" }) } });
    const refused = execResult({ wallMs: 0, collected: { text: "HTTP/1.1 403 Forbidden\n", totalBytes: 23, truncated: false, exit: create(ExitStatusSchema, { code: 0, sandboxDenied: true, sandboxDenial: "network: a.example:80 (no)" }) } });
    expect(refused.output).toBe("Wall time: 0.0000 seconds\nProcess exited with code 0\nThe sandbox refused: network: a.example:80 (no)\nOutput:\nHTTP/1.1 403 Forbidden\n");
    expect(killed).toEqual({ success: false, output: "Wall time: 0.0000 seconds\nProcess exited with code 143 (killed by SIGTERM: terminated)\nOutput:\n" });
  });
});

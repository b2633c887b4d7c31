import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { ProcessSpecSchema } from "../../../gen/tether/exec/v1/process_pb.js";
import { CLIENT_STREAM_WINDOW_BYTES, DEFAULT_RESUME_HISTORY_BYTES } from "../../common/resume-window.js";
import { ErrorCode } from "../../common/tether-error.js";
import { launcherPath } from "./launcher-path.js";
import { ProcessManager } from "./process-manager.js";
import type { Clock } from "./stopwatch.js";

const RETENTION_MS = 123_456;

/** A clock whose timers fire only when the test says so. */
function manualClock() {
  const timers = new Map<symbol, { fn: () => void; ms: number }>();
  const clock: Clock = {
    now: () => performance.now(),
    setTimeout: (fn, ms) => {
      const handle = Symbol("timer");
      timers.set(handle, { fn, ms });
      return handle;
    },
    clearTimeout: (handle) => void timers.delete(handle as symbol),
  };
  const retention = () => [...timers].filter(([, t]) => t.ms === RETENTION_MS);
  const fireRetention = () => {
    for (const [handle, t] of retention()) {
      timers.delete(handle);
      t.fn();
    }
  };
  return { clock, retentionTimers: () => retention().length, fireRetention };
}

let processes: ProcessManager | undefined;
afterEach(async () => {
  await processes?.close();
  processes = undefined;
});

async function exitedProcess(sessionId: string) {
  const time = manualClock();
  processes = new ProcessManager({ launcherPath: launcherPath(), defaultCwd: "/tmp", clock: time.clock, limits: { exitedRetentionMs: RETENTION_MS } });
  const { process } = await processes.start("p", create(ProcessSpecSchema, { argv: ["true"] }), { sessionId });
  await process.exited;
  return { manager: processes, time };
}

describe("ProcessManager", () => {
  it("keeps an exited process readable until its retention runs out", async () => {
    const { manager, time } = await exitedProcess("s");
    expect(manager.get("p").running).toBe(false);
    expect(time.retentionTimers()).toBe(1);
    time.fireRetention();
    expect(() => manager.get("p")).toThrow(expect.objectContaining({ code: ErrorCode.NotFound }));
  });

  it("drops the retention timer of a process its session's close forgot, so nothing keeps the process alive", async () => {
    const { manager, time } = await exitedProcess("s");
    expect(time.retentionTimers()).toBe(1);
    await manager.closeSession("s", "closed by the test");
    expect(() => manager.get("p")).toThrow(expect.objectContaining({ code: ErrorCode.NotFound }));
    // The timer's closure holds the process (child, streams, log): a pending one would keep
    // every closed session's processes in memory for the whole retention time.
    expect(time.retentionTimers()).toBe(0);
  });

  it("keeps at most maxExited exited processes, dropping the earliest exits first, and never a running one", async () => {
    const time = manualClock();
    processes = new ProcessManager({ launcherPath: launcherPath(), defaultCwd: "/tmp", clock: time.clock, limits: { exitedRetentionMs: RETENTION_MS, maxExited: 2 } });
    const { process: running } = await processes.start("running", create(ProcessSpecSchema, { argv: ["sleep", "30"] }));
    for (const id of ["a", "b", "c", "d"]) await (await processes.start(id, create(ProcessSpecSchema, { argv: ["true"] }))).process.exited;
    expect(processes.list({ includeExited: true }).map((p) => p.processId).sort()).toEqual(["c", "d", "running"]);
    expect(time.retentionTimers()).toBe(2); // the dropped ones' timers went with them
    void running.kill("end of test");
    await running.exited;
    expect(processes.list({ includeExited: true }).map((p) => p.processId).sort()).toEqual(["d", "running"]);
  });

  it("refuses a resume history below the client window plus one merged Attach message (common/resume-window.ts)", async () => {
    const small = { resumeHistoryBytes: CLIENT_STREAM_WINDOW_BYTES };
    expect(() => new ProcessManager({ launcherPath: launcherPath(), defaultCwd: "/tmp", limits: small, zygote: false })).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidArgument, message: expect.stringMatching(/resume history/) }),
    );
    const ok = new ProcessManager({ launcherPath: launcherPath(), defaultCwd: "/tmp", zygote: false });
    expect(ok.limits.resumeHistoryBytes).toBe(DEFAULT_RESUME_HISTORY_BYTES);
    await ok.close();
  });
});

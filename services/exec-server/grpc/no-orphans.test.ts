// A real `tether exec-server` process that dies (SIGKILL) or is stopped (SIGTERM)
// leaves none of its processes behind.
import { describe, expect, it } from "vitest";
import { parseEnvTarget } from "../../../clients/environment/env-target.js";
import { type NetworkTarget, createConnection } from "../../../clients/environment/grpc-connection.js";
import { TextReader, alive, pollUntil } from "../../../test/support/exec-harness.js";
import { startExecServerProcess } from "../../../test/support/exec-server-process.js";

/** Starts `sh -c 'sleep 1000 & sleep 1000'`-like work and returns the pids of both sleeps. */
async function startSleepers(url: string): Promise<{ pids: number[]; close: () => void }> {
  const conn = createConnection(parseEnvTarget(url) as NetworkTarget);
  await conn.processes.start({ processId: "sleepers", spec: { argv: ["sh", "-c", "sleep 1000 & echo $!; exec sleep 1000"] } });
  const reader = new TextReader(conn.processes.attach({ processId: "sleepers" }));
  await reader.until((t) => t.endsWith("\n"));
  const background = Number(reader.text.trim());
  // `exec` makes the foreground sleep the target itself: its pid is the process's pid.
  const [info] = (await conn.processes.list({})).processes;
  await reader.stop();
  return { pids: [background, info!.pid], close: () => conn.close() };
}

describe("exec server process lifetime", () => {
  it("kills every process it started when it is SIGKILLed", async () => {
    const server = await startExecServerProcess();
    try {
      const { pids, close } = await startSleepers(server.url);
      close();
      expect(pids).toHaveLength(2); // the background sleep and the exec'd one
      for (const pid of pids) expect(await alive(pid), `sleep ${pid} runs`).toBe(true);
      server.kill("SIGKILL");
      expect((await server.exited).signal).toBe("SIGKILL");
      // No event tells us a stranger's process died: poll the process table, bounded.
      for (const pid of pids) await pollUntil(async () => !(await alive(pid)), `sleep ${pid} to die after the server was SIGKILLed`);
    } finally {
      await server.close();
    }
  });

  it("kills its processes and exits 0 on SIGTERM", async () => {
    const server = await startExecServerProcess();
    try {
      const { pids, close } = await startSleepers(server.url);
      close();
      server.kill("SIGTERM");
      expect(await server.exited).toEqual({ code: 0, signal: null });
      expect(server.stderr()).toMatch(/"signal":"SIGTERM".*"msg":"stopping/);
      for (const pid of pids) await pollUntil(async () => !(await alive(pid)), `sleep ${pid} to die after SIGTERM`);
    } finally {
      await server.close();
    }
  });

  it("ends attached streams with the exit event on SIGTERM, naming the shutdown", async () => {
    const server = await startExecServerProcess();
    const conn = createConnection(parseEnvTarget(server.url) as NetworkTarget);
    try {
      await conn.processes.start({ processId: "watched", spec: { argv: ["sh", "-c", "echo up; sleep 1000"] } });
      const reader = new TextReader(conn.processes.attach({ processId: "watched" }));
      await reader.until((t) => t.includes("up"));
      server.kill("SIGTERM");
      const exit = await reader.end();
      expect(exit).toMatchObject({ signal: 9, reason: "the exec server shut down" });
      expect((await server.exited).code).toBe(0);
    } finally {
      conn.close();
      await server.close();
    }
  });
});

// openEnvironment passes the session's options through: an agent that restarts with the same
// session id finds its processes again (within the detached TTL).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ExecServerProcess, startExecServerProcess } from "../../test/support/exec-server-process.js";
import { SandboxMode } from "../../gen/tether/exec/v1/sandbox_pb.js";
import { openEnvironment } from "./open-environment.js";

describe("openEnvironment session options", () => {
  let server: ExecServerProcess;
  beforeAll(async () => {
    server = await startExecServerProcess();
  });
  afterAll(async () => {
    await server?.close();
  });

  it("resumes a session by id: a second client (the restarted agent) sees the first one's processes", async () => {
    const sessionId = `agent-${process.pid}`;
    const first = await openEnvironment(server.url, { sessionId, detachedTtlMs: 60_000, decisionTimeoutMs: 1234, defaultSandbox: { mode: SandboxMode.FULL_ACCESS } });
    await first.processes.start("survivor", { argv: ["sleep", "60"] });
    const second = await openEnvironment(server.url, { sessionId });
    try {
      expect(second.session.sessionId).toBe(sessionId);
      expect((await second.processes.list()).map((p) => p.processId)).toContain("survivor");
    } finally {
      await second.close();
      // The session was closed by the second client: the first one's close finds it gone, quietly.
      await first.close();
    }
  });

  it("refuses a session id for an environment that cannot resume one", async () => {
    await expect(openEnvironment("local", { sessionId: "x" })).rejects.toThrow(/no session to resume/);
  });
});

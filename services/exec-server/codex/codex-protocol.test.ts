// Codex's exec-server protocol against a real ExecCore, frame by frame as `codex exec` sends
// them (see shared/reference/codex-exec-server): the start-up probes, a command's pushed
// output/exited/closed with one seq, writes, a resume after a cut with process/read, and
// tether's guarantees: a session outlives a drop for its TTL, then its processes die.
import { describe, expect, it } from "vitest";
import { ExecCore } from "../exec-core.js";
import { codexDoorFixture } from "./codex-door-fixture.js";
import { startCodexServer } from "./codex-server.js";
import { CodexTestClient } from "./codex-test-client.js";

const door = codexDoorFixture("tether-codex-proto-", { defaultDetachedTtlMs: 60_000 });

let n = 0;
function start(c: CodexTestClient, cmd: string, extra: Record<string, unknown> = {}) {
  const processId = `${++n}-${"0".repeat(8)}-test`;
  const params = {
    processId,
    metadata: { threadId: "t-1", toolCallId: `call_${n}` },
    argv: ["/bin/bash", "-c", cmd],
    cwd: `file://${door.dir}`,
    envPolicy: { inherit: "all", ignoreDefaultExcludes: true, exclude: ["CODEX_VERSION"], set: {}, includeOnly: [] },
    env: { TERM: "dumb", CODEX_CI: "1" },
    tty: false,
    pipeStdin: false,
    arg0: null,
    sandbox: null,
    enforceManagedNetwork: false,
    managedNetwork: null,
    ...extra,
  };
  return { processId, answer: c.request("process/start", params) };
}

const closedOf = (id: string) => (m: { method: string; params: Record<string, unknown> }) => m.method === "process/closed" && m.params.processId === id;

describe("Codex protocol onto ExecCore", () => {
  it("answers the start-up probes and runs a command: output, exited and closed share one seq", async () => {
    const c = await CodexTestClient.connect(door.url);
    const init = await c.initialize();
    expect(init.result).toMatchObject({ sessionId: expect.any(String), environmentInfo: { cwd: `file://${door.dir}`, platformOs: "linux" } });
    expect(init.result!.environmentInfo).toMatchObject({ shell: { name: expect.any(String), path: expect.stringMatching(/^\//) } });
    const missing = await c.request("fs/getMetadata", { path: `file://${door.dir}/.git`, sandbox: null });
    expect(missing.error).toMatchObject({ code: -32004 });

    const { processId, answer } = start(c, "echo out; echo err >&2; exit 3");
    expect((await answer).result).toEqual({ processId, sandboxType: "none" });
    const closed = await c.waitFor(closedOf(processId));
    const mine = c.notifications.filter((m) => m.params.processId === processId);
    expect(mine.map((m) => [m.method, m.params.seq])).toEqual([
      ["process/output", 1],
      ["process/output", 2],
      ["process/exited", 3],
      ["process/closed", 4],
    ]);
    expect(closed.params.seq).toBe(4);
    expect(mine[2]!.params).toMatchObject({ exitCode: 3, sandboxDenied: false });
    expect(c.output(processId)).toBe("out\nerr\n");
    expect((await c.request("process/terminate", { processId })).result).toEqual({ running: false });
    await c.close();
  });

  it("writes to a PTY (pipelined, idempotent by writeId) and terminates a running process", async () => {
    const c = await CodexTestClient.connect(door.url);
    await c.initialize();
    const { processId, answer } = start(c, "exec cat", { tty: true });
    // Pipelined right behind the start, before its answer: the write waits for the start.
    const write = { processId, chunk: Buffer.from("abc\n").toString("base64"), writeId: "1" };
    const first = c.request("process/write", write);
    await answer;
    expect((await first).result).toEqual({ status: "accepted" });
    expect((await c.request("process/write", write)).result).toEqual({ status: "accepted" });
    await c.waitFor((m) => m.params.processId === processId && c.output(processId).split("abc").length - 1 >= 2);
    expect((await c.request("process/terminate", { processId })).result).toEqual({ running: true });
    const exited = await c.waitFor((m) => m.method === "process/exited" && m.params.processId === processId);
    expect(exited.params.exitCode).toBe(128 + 15);
    // One "abc" echoed by the terminal and one printed by cat: the retried write was applied once.
    expect(c.output(processId).split("abc").length - 1).toBe(2);
    const pipe = start(c, "sleep 5");
    await pipe.answer;
    expect((await c.request("process/write", { processId: pipe.processId, chunk: "eA==", writeId: "1" })).result).toEqual({ status: "stdinClosed" });
    expect((await c.request("process/write", { processId: "nope", chunk: "eA==", writeId: "1" })).result).toEqual({ status: "unknownProcess" });
    await c.close();
  });

  it("resumes a session after a cut: process/read returns what was missed, pushes go on", async () => {
    const c = await CodexTestClient.connect(door.url);
    const sessionId = (await c.initialize()).result!.sessionId as string;
    const { processId, answer } = start(c, "echo first; read line; echo after-$line; read line2; echo last-$line2", { pipeStdin: true });
    await answer;
    await c.waitFor((m) => m.method === "process/output" && m.params.processId === processId);
    const seen = c.notifications.filter((m) => m.params.processId === processId).length;
    c.drop();
    await c.closed;
    // While nobody is connected the process goes on; its output waits in the log.
    await door.core.processes.write(processId, "", Buffer.from("x\n"), false);
    await until(() => door.core.processes.get(processId).log.lastSeq >= 2);

    const again = await CodexTestClient.connect(door.url);
    expect((await again.initialize(sessionId)).result!.sessionId).toBe(sessionId);
    const read = await again.request("process/read", { processId, afterSeq: seen, maxBytes: null, waitMs: 0 });
    expect(read.result).toMatchObject({ chunks: [{ seq: 2, stream: "stdout" }], nextSeq: 3, exited: false, closed: false, failure: null });
    expect(Buffer.from((read.result!.chunks as { chunk: string }[])[0]!.chunk, "base64").toString()).toBe("after-x\n");
    expect((await again.request("process/write", { processId, chunk: Buffer.from("y\n").toString("base64"), writeId: "1" })).result).toEqual({ status: "accepted" });
    await again.waitFor(closedOf(processId));
    expect(again.output(processId)).toBe("last-y\n");
    const done = await again.request("process/read", { processId, afterSeq: 4, maxBytes: null, waitMs: 0 });
    expect(done.result).toMatchObject({ chunks: [], exited: true, exitCode: 0, closed: true, nextSeq: 6 });
    await again.close();
  });

  it("refuses to resume a session it does not have, saying why", async () => {
    const c = await CodexTestClient.connect(door.url);
    const answer = await c.request("initialize", { clientName: "codex-environment", resumeSessionId: "no-such-session" });
    expect(answer.error).toMatchObject({ code: -32004 });
    expect(answer.error!.message).toMatch(/cannot be resumed: it expired .* or the exec server restarted/);
    await c.close();
  });

  it("kills a session's processes when the client closes cleanly, and hides them from other sessions", async () => {
    const a = await CodexTestClient.connect(door.url);
    await a.initialize();
    const { processId, answer } = start(a, "sleep 60");
    await answer;
    const b = await CodexTestClient.connect(door.url);
    await b.initialize();
    expect((await b.request("process/terminate", { processId })).result).toEqual({ running: false });
    expect((await b.request("process/read", { processId, afterSeq: 0 })).error).toMatchObject({ code: -32004 });
    const proc = door.core.processes.get(processId);
    expect(proc.running).toBe(true);
    await a.close(1000);
    const status = await proc.exited;
    expect(status.signal).toBe(9);
    expect(status.reason).toMatch(/Codex client closed its connection/);
    await b.close();
  });

  it("keeps a dropped session for its detached TTL, then kills its processes", async () => {
    await using quick = await ExecCore.create({ defaultCwd: door.dir, cgroups: false, defaultDetachedTtlMs: 300 });
    await using quickDoor = await startCodexServer(quick, { listen: "ws://127.0.0.1:0" });
    const c = await CodexTestClient.connect(quickDoor.url);
    await c.initialize();
    const { processId, answer } = start(c, "sleep 60");
    await answer;
    const proc = quick.processes.get(processId);
    c.drop();
    const status = await proc.exited;
    expect(status.reason).toMatch(/session expired after 300 ms detached/);
  });

  it("maps Codex's workspace-write intent onto bwrap, and refuses what tether cannot honour", async () => {
    const c = await CodexTestClient.connect(door.url);
    await c.initialize();
    const sandbox = {
      permissions: {
        type: "managed",
        network: "restricted",
        file_system: {
          type: "restricted",
          entries: [
            { path: { type: "special", value: { kind: "root" } }, access: "read" },
            { path: { type: "special", value: { kind: "project_roots" } }, access: "write" },
          ],
        },
      },
      cwd: `file://${door.dir}`,
      workspaceRoots: [`file://${door.dir}`],
    };
    const boxed = start(c, "echo in > inside.txt && echo ok", { sandbox });
    expect((await boxed.answer).result).toMatchObject({ sandboxType: "linuxSeccomp" });
    await c.waitFor(closedOf(boxed.processId));
    expect(c.output(boxed.processId)).toBe("ok\n");
    expect(door.core.processes.get(boxed.processId).spec.sandbox?.writableRoots).toEqual([door.dir]);
    // A write outside the workspace is refused, and Codex hears it was the sandbox.
    const outside = start(c, "echo x > /etc/tether-codex-denied", { sandbox });
    await outside.answer;
    const exited = await c.waitFor((m) => m.method === "process/exited" && m.params.processId === outside.processId);
    expect(exited.params).toMatchObject({ exitCode: 1, sandboxDenied: true });
    expect(c.output(outside.processId)).toMatch(/Read-only file system/);
    const failedPlain = start(c, "exit 1", { sandbox });
    await failedPlain.answer;
    expect((await c.waitFor((m) => m.method === "process/exited" && m.params.processId === failedPlain.processId)).params).toMatchObject({ exitCode: 1, sandboxDenied: false });
    const refusals: [Record<string, unknown>, RegExp][] = [
      [{ arg0: "codex-linux-sandbox" }, /arg0 .* is not supported by tether/],
      [{ envPolicy: { inherit: "all", ignoreDefaultExcludes: true, exclude: [], set: {}, includeOnly: ["PATH"] } }, /includeOnly is not supported/],
      [{ enforceManagedNetwork: true }, /managed network proxy is not available on tether/],
      [{ sandbox: { ...sandbox, permissions: { ...sandbox.permissions, file_system: { type: "restricted", entries: [] } } } }, /no readable root/],
    ];
    for (const [extra, message] of refusals) {
      const refused = await start(c, "true", extra).answer;
      expect(refused.error?.message).toMatch(message);
    }
    await c.close();
  });
});

async function until(ok: () => boolean): Promise<void> {
  // Bounded poll on a value the core exposes no event for (the log's seq); 10 s at most.
  for (let i = 0; i < 1000 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(ok()).toBe(true);
}

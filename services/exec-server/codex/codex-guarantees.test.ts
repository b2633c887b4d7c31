// tether's guarantees as a Codex client sees them: output kept per the server's limits (Codex's
// own server keeps 1 MiB), process/read long-polls, and no process outlives its session
// (grandchildren included).
import { execFileSync } from "node:child_process";
import { open } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { codexDoorFixture } from "./codex-door-fixture.js";
import { CodexTestClient } from "./codex-test-client.js";

const door = codexDoorFixture("tether-codex-guar-");

let n = 0;
async function start(c: CodexTestClient, cmd: string): Promise<string> {
  const processId = `${++n}-guarantees`;
  const answer = await c.request("process/start", { processId, argv: ["/bin/bash", "-c", cmd], cwd: `file://${door.dir}`, env: {}, tty: false, pipeStdin: false, arg0: null, sandbox: null });
  expect(answer.error).toBeUndefined();
  return processId;
}

describe("Codex front door guarantees", () => {
  it("keeps a 3 MB output whole after delivery: a late process/read from seq 0 gets every byte", async () => {
    const c = await CodexTestClient.connect(door.url);
    await c.initialize();
    const processId = await start(c, "head -c 3000000 /dev/zero");
    await c.waitFor((m) => m.method === "process/closed" && m.params.processId === processId);
    let bytes = 0;
    let after = 0;
    for (let i = 0; i < 1000; i++) {
      const read = await c.request("process/read", { processId, afterSeq: after, maxBytes: 1 << 20, waitMs: 0 });
      const r = read.result as { chunks: { seq: number; chunk: string }[]; nextSeq: number; exited: boolean };
      for (const chunk of r.chunks) bytes += Buffer.from(chunk.chunk, "base64").byteLength;
      if (r.exited) break;
      after = r.nextSeq - 1;
    }
    expect(bytes).toBe(3_000_000);
    await c.close();
  });

  it("holds a fast producer when the client stops reading (bounded memory), then delivers every byte", async () => {
    const c = await CodexTestClient.connect(door.url);
    await c.initialize();
    const total = 24_000_000;
    const processId = await start(c, `head -c ${total} /dev/zero`);
    const socket = (c.ws as unknown as { _socket: import("node:net").Socket })._socket;
    socket.pause();
    const proc = door.core.processes.get(processId);
    // BLOCK: once the socket, the send buffer and the log's cap are full, the process is paused.
    for (let i = 0; i < 1000 && proc.log.writable; i++) await new Promise((r) => setTimeout(r, 10));
    expect(proc.log.writable).toBe(false);
    expect(proc.running).toBe(true);
    expect(proc.log.retainedBytes).toBeLessThanOrEqual(proc.log.maxRetainedBytes + proc.log.historyBytes + (1 << 20));
    socket.resume();
    await c.waitFor((m) => m.method === "process/closed" && m.params.processId === processId);
    const bytes = c.notifications
      .filter((m) => m.method === "process/output" && m.params.processId === processId)
      .reduce((sum, m) => sum + Buffer.from(m.params.chunk as string, "base64").byteLength, 0);
    expect(bytes).toBe(total);
    await c.close();
  });

  it("long-polls process/read with waitMs until output arrives", async () => {
    const c = await CodexTestClient.connect(door.url);
    await c.initialize();
    const fifo = path.join(door.dir, "gate");
    execFileSync("mkfifo", [fifo]);
    const processId = await start(c, `read x < ${fifo}; echo released`);
    const empty = await c.request("process/read", { processId, afterSeq: 0, waitMs: 0 });
    expect(empty.result).toMatchObject({ chunks: [], nextSeq: 1, exited: false });
    const polled = c.request("process/read", { processId, afterSeq: 0, waitMs: 30_000 });
    const gate = await open(fifo, "w");
    await gate.write("go\n");
    await gate.close();
    const r = (await polled).result as { chunks: { chunk: string }[] };
    expect(Buffer.from(r.chunks[0]!.chunk, "base64").toString()).toBe("released\n");
    await c.close();
  });

  it("leaves no orphan: a grandchild in the background dies with its session", async () => {
    const c = await CodexTestClient.connect(door.url);
    await c.initialize();
    const processId = await start(c, "sleep 300 & echo $!; wait");
    const out = await c.waitFor((m) => m.method === "process/output" && m.params.processId === processId);
    const grandchild = Number(Buffer.from(out.params.chunk as string, "base64").toString().trim());
    expect(alive(grandchild)).toBe(true);
    const proc = door.core.processes.get(processId);
    await c.close(1000);
    await proc.exited;
    // The whole process group was killed, not only the shell.
    for (let i = 0; i < 500 && alive(grandchild); i++) await new Promise((r) => setTimeout(r, 10));
    expect(alive(grandchild)).toBe(false);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false; // ESRCH: gone (a zombie reaped by its launcher is gone too)
  }
}

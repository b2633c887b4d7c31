// The lean run target against a real exec server process: the session stays attached past
// its detached TTL, calls resume across cut connections (through a TCP proxy), close kills
// what is left, and an unreachable server is named with a hint.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ExecServerProcess, startExecServerProcess } from "../../test/support/exec-server-process.js";
import { type TcpProxy, startTcpProxy } from "../../test/support/tcp-proxy.js";
import { alive, pollUntil } from "../../test/support/exec-harness.js";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import { type LeanRunTarget, openLeanRunTarget } from "./lean-run.js";
import { OutputStream } from "../../gen/tether/exec/v1/process_pb.js";
import { type RunEvent, type RunExit, STDERR_STREAM } from "./run-command.js";

async function collect(events: AsyncIterable<RunEvent>, onOutput?: (total: number) => void): Promise<{ stdout: Buffer; stderr: Buffer; status?: RunExit }> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let total = 0;
  let status: RunExit | undefined;
  for await (const ev of events) {
    if (ev.kind === "output") {
      (ev.stream === STDERR_STREAM ? err : out).push(Buffer.from(ev.data));
      total += ev.data.byteLength;
      onOutput?.(total);
    } else status = ev.status;
  }
  return { stdout: Buffer.concat(out), stderr: Buffer.concat(err), status };
}

describe("lean run target", () => {
  it("names stderr by the value process.proto gives it", () => {
    expect(STDERR_STREAM).toBe(OutputStream.STDERR);
  });

  let server: ExecServerProcess;
  let proxy: TcpProxy;
  beforeAll(async () => {
    // A short detached TTL: a session that is not kept attached dies within the test.
    server = await startExecServerProcess({ listen: "tcp://127.0.0.1:0", args: ["--detached-ttl", "300"] });
    proxy = await startTcpProxy({ port: Number(server.url.split(":").at(-1)) });
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.close();
  });

  it("keeps its session attached while a command outlives the detached TTL", async () => {
    const target = await openLeanRunTarget(server.url);
    try {
      await target.start("lean-ttl", { argv: ["sh", "-c", "sleep 1; echo survived"], stdinOpen: false });
      const r = await collect(target.attach("lean-ttl"));
      expect(r.stdout.toString()).toBe("survived\n");
      expect(r.status?.code).toBe(0);
    } finally {
      await target.close();
    }
  });

  it("pipes stdin and resumes output with nothing lost or repeated across cuts", async () => {
    const target: LeanRunTarget = await openLeanRunTarget(`grpc://127.0.0.1:${proxy.port}`);
    try {
      await target.start("lean-cut", { argv: ["sh", "-c", "cat >&2; seq 1 300000"], stdinOpen: true });
      await target.write("lean-cut", Buffer.from("hello"));
      proxy.cut();
      await target.write("lean-cut", new Uint8Array(0), { eof: true });
      const cutAt = [200_000, 900_000];
      let cuts = 0;
      const r = await collect(target.attach("lean-cut"), (total) => {
        if (cuts < cutAt.length && total >= cutAt[cuts]!) {
          proxy.cut();
          cuts++;
        }
      });
      expect(cuts).toBe(cutAt.length);
      expect(r.stderr.toString()).toBe("hello");
      const expected = createHash("sha256").update(execFileSync("seq", ["1", "300000"], { maxBuffer: 1 << 24 })).digest("hex");
      expect(createHash("sha256").update(r.stdout).digest("hex")).toBe(expected);
      expect(r.status?.code).toBe(0);
    } finally {
      await target.close();
    }
  });

  it("signals the process group, and close kills what is still running", async () => {
    const target = await openLeanRunTarget(server.url);
    await target.start("lean-sig", { argv: ["sh", "-c", "echo $$; exec sleep 100"], stdinOpen: false });
    const events = target.attach("lean-sig")[Symbol.asyncIterator]();
    const first = await events.next();
    expect(first.done).toBe(false);
    const pid = Number(Buffer.from((first.value as Extract<RunEvent, { kind: "output" }>).data).toString().trim());
    expect(await alive(pid)).toBe(true);
    await target.signal("lean-sig", "SIGTERM");
    let exit: RunExit | undefined;
    for (let ev = await events.next(); !ev.done; ev = await events.next()) if (ev.value.kind === "exited") exit = ev.value.status;
    expect(exit?.signal).toBe(15);

    await target.start("lean-left", { argv: ["sh", "-c", "echo $$; exec sleep 100"], stdinOpen: false });
    const left = target.attach("lean-left")[Symbol.asyncIterator]();
    const line = await left.next();
    const leftPid = Number(Buffer.from((line.value as Extract<RunEvent, { kind: "output" }>).data).toString().trim());
    await target.close();
    await pollUntil(async () => !(await alive(leftPid)), `process ${leftPid} to be killed by CloseSession`);
  });

  it("names an unreachable server and how to start one", async () => {
    const err = await openLeanRunTarget("unix:///tmp/tether-lean-no-such.sock").then(
      (t) => t.start("x", { argv: ["true"] }).then(() => undefined, (e: unknown) => e),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TetherError);
    expect((err as TetherError).message).toMatch(/cannot reach unix:\/\/\/tmp\/tether-lean-no-such\.sock.*tether exec-server --listen/);
  });
});

describe("lean run target's --ca-file", () => {
  it("names a CA file it cannot read, with its code", async () => {
    const err = await openLeanRunTarget("grpcs://127.0.0.1:1", { caFile: "/tmp/tether-lean-no-such-ca.pem" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TetherError);
    expect((err as TetherError).code).toBe(ErrorCode.NotFound);
    expect((err as TetherError).message).toMatch(/--ca-file \/tmp\/tether-lean-no-such-ca\.pem: ENOENT/);
  });
});

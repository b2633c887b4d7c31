// Every bad request gets a typed code and a message that says what is wrong, and the
// server keeps serving: a `cat` started before the suite must echo after every case.
import * as grpc from "@grpc/grpc-js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import { fromGrpcError } from "../../common/grpc-status.js";
import { type Harness, TextReader, failure, startHarness } from "../../../test/support/exec-harness.js";

let h: Harness;
let witness: TextReader;
let echoes = 0;

beforeAll(async () => {
  h = await startHarness();
  await h.clients.processes.start({ processId: "witness", spec: { argv: ["cat"], stdinOpen: true } });
  witness = new TextReader(h.clients.processes.attach({ processId: "witness" }));
});
afterEach(async () => {
  // The other process is unaffected and the server still answers.
  const line = `still here ${++echoes}\n`;
  await h.clients.processes.write({ processId: "witness", data: Buffer.from(line) });
  await witness.until((t) => t.endsWith(line));
});
afterAll(async () => {
  await witness?.stop();
  await h?.close();
});

/** A unary call with hand-made request bytes, as a broken or hostile client would send. */
function rawCall(path: string, body: Buffer): Promise<Buffer> {
  const socket = h.url.replace("unix://", "unix:");
  const client = new grpc.Client(socket, grpc.credentials.createInsecure());
  return new Promise<Buffer>((resolve, reject) => {
    client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, body, (err, res) => {
      client.close();
      if (err) reject(fromGrpcError(err));
      else resolve(res!);
    });
  });
}

/** Protobuf length-delimited field. */
function field(num: number, bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from([(num << 3) | 2, bytes.length]), bytes]);
}

async function expectError(p: Promise<unknown>, code: ErrorCode, message: RegExp): Promise<TetherError> {
  const err = await failure(p);
  expect(ErrorCode[err.code]).toBe(ErrorCode[code]);
  expect(err.message).toMatch(message);
  return err;
}

describe("ProcessService bad input", () => {
  const start = (processId: string, spec: Parameters<Harness["clients"]["processes"]["start"]>[0]["spec"]) =>
    h.clients.processes.start({ processId, spec });

  it("empty argv", async () => {
    await expectError(start("bad-argv", { argv: [] }), ErrorCode.InvalidArgument, /spec\.argv is empty/);
    await expectError(h.clients.processes.start({ processId: "bad-nospec" }), ErrorCode.InvalidArgument, /spec is missing/);
  });

  it("missing executable", async () => {
    await expectError(start("bad-exe", { argv: ["no-such-program-xyz"] }), ErrorCode.NotFound, /no-such-program-xyz.*not found/);
    await expectError(start("bad-exe-path", { argv: ["/nonexistent/bin/tool"] }), ErrorCode.NotFound, /\/nonexistent\/bin\/tool/);
  });

  it("a cwd that does not exist", async () => {
    await expectError(start("bad-cwd", { argv: ["true"], cwd: "/no/such/dir" }), ErrorCode.NotFound, /the working directory \/no\/such\/dir does not exist/);
  });

  it("a non-UTF-8 argument", async () => {
    const spec = field(1, Buffer.from([0x66, 0xff, 0xfe]));
    const body = Buffer.concat([field(1, Buffer.from("bad-utf8")), field(2, spec)]);
    await expectError(rawCall("/tether.exec.v1.ProcessService/Start", body), ErrorCode.InvalidArgument, /malformed tether\.exec\.v1\.StartRequest.*utf-8/i);
  });

  it("a malformed message body", async () => {
    const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x07]);
    await expectError(rawCall("/tether.exec.v1.ProcessService/Start", garbage), ErrorCode.InvalidArgument, /malformed tether\.exec\.v1\.StartRequest/);
    await expectError(rawCall("/tether.exec.v1.ProcessService/Signal", garbage), ErrorCode.InvalidArgument, /malformed tether\.exec\.v1\.SignalRequest/);
  });

  it("a huge environment (2 MiB)", async () => {
    const big = "x".repeat(2 << 20);
    await expectError(start("bad-env", { argv: ["true"], env: { BIG: big } }), ErrorCode.InvalidArgument, /spec\.env is \d+ bytes; the limit is/);
  });

  it("invalid process ids", async () => {
    await expectError(start("", { argv: ["true"] }), ErrorCode.InvalidArgument, /process_id/);
    await expectError(start("has space", { argv: ["true"] }), ErrorCode.InvalidArgument, /process_id/);
    await expectError(start("x".repeat(129), { argv: ["true"] }), ErrorCode.InvalidArgument, /process_id/);
    await expectError(h.clients.processes.wait({ processId: "" }), ErrorCode.InvalidArgument, /process_id is empty/);
  });

  it("an unknown process id", async () => {
    const p = h.clients.processes;
    await expectError(p.wait({ processId: "nobody" }), ErrorCode.NotFound, /no process "nobody"/);
    await expectError(p.write({ processId: "nobody", data: Buffer.from("x") }), ErrorCode.NotFound, /no process "nobody"/);
    await expectError(p.terminate({ processId: "nobody" }), ErrorCode.NotFound, /no process "nobody"/);
    const attach = (async () => {
      for await (const _ of p.attach({ processId: "nobody" })) throw new Error("no event expected");
    })();
    await expectError(attach, ErrorCode.NotFound, /no process "nobody"/);
  });

  it("resize of a pipe process, and a size out of range", async () => {
    await start("bad-resize", { argv: ["sleep", "30"] });
    await expectError(h.clients.processes.resize({ processId: "bad-resize", size: { rows: 5, cols: 5 } }), ErrorCode.FailedPrecondition, /no PTY/);
    await expectError(h.clients.processes.resize({ processId: "bad-resize" }), ErrorCode.InvalidArgument, /size is missing/);
    await expectError(h.clients.processes.resize({ processId: "witness", size: { rows: 0, cols: 5 } }), ErrorCode.InvalidArgument, /out of range/);
    await h.clients.processes.terminate({ processId: "bad-resize", graceMs: 100 });
  });

  it("signal 0, 65, NOPE and none", async () => {
    const p = h.clients.processes;
    const sig = (value: number | string) =>
      p.signal({ processId: "witness", signal: typeof value === "number" ? { case: "number", value } : { case: "name", value } });
    await expectError(sig(0), ErrorCode.InvalidArgument, /signal 0 is out of range: use 1-64/);
    await expectError(sig(65), ErrorCode.InvalidArgument, /signal 65 is out of range/);
    await expectError(sig("NOPE"), ErrorCode.InvalidArgument, /unknown signal "NOPE"/);
    await expectError(p.signal({ processId: "witness" }), ErrorCode.InvalidArgument, /signal is missing/);
  });

  it("write after EOF, and to a process without stdin", async () => {
    const p = h.clients.processes;
    await p.start({ processId: "bad-eof", spec: { argv: ["sh", "-c", "cat >/dev/null; sleep 30"], stdinOpen: true } });
    await p.write({ processId: "bad-eof", data: Buffer.from("x"), eof: true });
    await expectError(p.write({ processId: "bad-eof", data: Buffer.from("y") }), ErrorCode.FailedPrecondition, /EOF was already sent/);
    await p.start({ processId: "bad-nostdin", spec: { argv: ["sleep", "30"] } });
    await expectError(p.write({ processId: "bad-nostdin", data: Buffer.from("y") }), ErrorCode.FailedPrecondition, /without stdin_open/);
    await p.terminate({ processId: "bad-eof", graceMs: 100 });
    await p.terminate({ processId: "bad-nostdin", graceMs: 100 });
  });

  it("a write larger than the per-call limit", async () => {
    const big = Buffer.alloc((4 << 20) + 1, 0x61);
    await expectError(h.clients.processes.write({ processId: "witness", data: big }), ErrorCode.InvalidArgument, /split it into several writes/);
  });

  it("attach from a cursor past the end", async () => {
    const p = h.clients.processes;
    const read = (async () => {
      for await (const _ of p.attach({ processId: "witness", afterSeq: 1_000_000n })) return;
    })();
    await expectError(read, ErrorCode.OutOfRange, /1000000/);
  });
});

// LeanChannel against a real grpc-js server (services/common/grpc-service.ts) serving fake
// Process and Environment services, over a Unix socket and over TLS with a bearer token.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { execFileSync } from "node:child_process";
import { once, EventEmitter } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addService } from "../../../services/common/grpc-service.js";
import { ErrorCode, TetherError } from "../../../services/common/tether-error.js";
import { ProcessService, type AttachResponse } from "../../../gen/tether/exec/v1/process_pb.js";
import { EnvironmentService } from "../../../gen/tether/exec/v1/environment_pb.js";
import { FileSystemService } from "../../../gen/tether/exec/v1/filesystem_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { AttachResponseSchema } from "../../../gen/tether/exec/v1/process_pb.js";
import { LeanChannel } from "./lean-channel.js";

const BIG_CHUNK = 64 * 1024;
const ERROR_MESSAGE = 'no process "ghost" — list them with `tether ps`; 100% sure: ünïcode';

/** What the fake server saw, for assertions that the server side ended as expected. */
class ServerLog extends EventEmitter {
  produced = 0;
  metadata: Pick<grpc.Metadata, "get"> | undefined;
}

function unimplemented(): never {
  throw new TetherError(ErrorCode.Unimplemented, "not in this fake");
}

/** Resolves with the signal's reason once it aborts. */
function aborted(signal: AbortSignal): Promise<unknown> {
  return signal.aborted ? Promise.resolve(signal.reason) : once(signal, "abort").then(() => signal.reason);
}

function startServer(log: ServerLog): grpc.Server {
  const server = new grpc.Server();
  addService(server, EnvironmentService, {
    async getInfo(_req, ctx) {
      log.metadata = ctx.metadata;
      return { os: "linux", hostname: "fake-host", serverVersion: "0.0.0-test" };
    },
  });
  addService(server, ProcessService, {
    async start(req) {
      if (req.processId === "ghost") {
        throw new TetherError(ErrorCode.NotFound, ERROR_MESSAGE, { details: { oldest_seq: "7" } });
      }
      return { process: { processId: req.processId, pid: 4242, spec: req.spec }, created: true };
    },
    async *attach(req, ctx): AsyncIterable<MessageInitShape<typeof AttachResponseSchema>> {
      if (req.processId === "count") {
        for (let seq = 1; seq <= 10_000; seq++) yield { seq: BigInt(seq), event: { case: "output", value: { data: Buffer.from(`line ${seq}\n`) } } };
        return;
      }
      if (req.processId === "fail-after-3") {
        for (let seq = 1; seq <= 3; seq++) yield { seq: BigInt(seq) };
        throw new TetherError(ErrorCode.OutOfRange, "cursor too old", { details: { oldest_seq: "100" } });
      }
      if (req.processId === "big" || req.processId === "endless") {
        const data = Buffer.alloc(req.processId === "big" ? BIG_CHUNK : 16);
        const limit = req.processId === "big" ? 2000 : Number.MAX_SAFE_INTEGER;
        try {
          for (let seq = 1; seq <= limit && !ctx.signal.aborted; seq++) {
            log.produced = seq;
            yield { seq: BigInt(seq), event: { case: "output", value: { data } } };
          }
        } finally {
          // Also runs when grpc-service.ts returns the generator after a cancel.
          log.emit("attach-ended", ctx.signal.reason);
        }
        return;
      }
      unimplemented();
    },
    async wait(_req, ctx) {
      log.emit("wait-started");
      const reason = await aborted(ctx.signal);
      log.emit("wait-aborted", reason);
      throw reason;
    },
    write: unimplemented,
    writeStream: unimplemented,
    signal: unimplemented,
    resize: unimplemented,
    terminate: unimplemented,
    list: unimplemented,
  });
  return server;
}

function bind(server: grpc.Server, address: string, creds: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => server.bindAsync(address, creds, (err, port) => (err ? reject(err) : resolve(port))));
}

function shutdown(server: grpc.Server): Promise<void> {
  return new Promise((resolve) => server.tryShutdown(() => resolve()));
}

async function rejection(p: Promise<unknown>): Promise<TetherError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(TetherError);
    return err as TetherError;
  }
  throw new Error("expected a rejection");
}

const dir = mkdtempSync(join(tmpdir(), "lean-channel-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("LeanChannel over a Unix socket", () => {
  const log = new ServerLog();
  const server = startServer(log);
  const socket = join(dir, "exec.sock");
  let channel: LeanChannel;

  beforeAll(async () => {
    await bind(server, `unix://${socket}`, grpc.ServerCredentials.createInsecure());
    channel = LeanChannel.connect({ target: `unix://${socket}` });
  });
  afterAll(async () => {
    await channel.close();
    await shutdown(server);
  });

  it("makes unary calls with the request and response encoded by protobuf-es", async () => {
    const res = await channel.unary(ProcessService.method.start, { processId: "p1", spec: { argv: ["echo", "hi"] } });
    expect(res.created).toBe(true);
    expect(res.process?.processId).toBe("p1");
    expect(res.process?.spec?.argv).toEqual(["echo", "hi"]);
    const info = await channel.unary(EnvironmentService.method.getInfo, {});
    expect(info.hostname).toBe("fake-host");
  });

  it("streams 10 000 messages in order", async () => {
    let expected = 1n;
    for await (const msg of channel.serverStream(ProcessService.method.attach, { processId: "count" })) {
      expect(msg.seq).toBe(expected);
      expected++;
    }
    expect(expected).toBe(10_001n);
  });

  it("turns an error status into a TetherError with the code, decoded message and details", async () => {
    const err = await rejection(channel.unary(ProcessService.method.start, { processId: "ghost" }));
    expect(err.code).toBe(ErrorCode.NotFound);
    expect(err.message).toBe(ERROR_MESSAGE);
    expect(err.details).toEqual({ oldest_seq: "7" });
  });

  it("delivers the messages before an error that ends a stream", async () => {
    const seen: AttachResponse[] = [];
    const err = await rejection(
      (async () => {
        for await (const msg of channel.serverStream(ProcessService.method.attach, { processId: "fail-after-3" })) seen.push(msg);
      })(),
    );
    expect(seen.map((m) => m.seq)).toEqual([1n, 2n, 3n]);
    expect(err.code).toBe(ErrorCode.OutOfRange);
    expect(err.details).toEqual({ oldest_seq: "100" });
  });

  it("fails with DEADLINE_EXCEEDED when the deadline passes, and the server's signal aborts", async () => {
    const serverAborted = once(log, "wait-aborted");
    const err = await rejection(channel.unary(ProcessService.method.wait, { processId: "p1" }, { timeoutMs: 50 }));
    expect(err.code).toBe(ErrorCode.DeadlineExceeded);
    const [reason] = await serverAborted;
    expect(reason).toBeInstanceOf(TetherError);
  });

  it("cancels a unary call on abort and the server sees it", async () => {
    const controller = new AbortController();
    const started = once(log, "wait-started");
    const serverAborted = once(log, "wait-aborted");
    const call = channel.unary(ProcessService.method.wait, { processId: "p1" }, { signal: controller.signal });
    await started;
    controller.abort(new TetherError(ErrorCode.Cancelled, "user pressed ^C"));
    const err = await rejection(call);
    expect(err.code).toBe(ErrorCode.Cancelled);
    expect(err.message).toBe("user pressed ^C");
    const [reason] = await serverAborted;
    expect((reason as TetherError).code).toBe(ErrorCode.Cancelled);
  });

  it("cancels the server's stream when the consumer stops early", async () => {
    const ended = once(log, "attach-ended");
    let n = 0;
    for await (const _msg of channel.serverStream(ProcessService.method.attach, { processId: "endless" })) {
      if (++n === 5) break;
    }
    const [reason] = await ended;
    expect((reason as TetherError).code).toBe(ErrorCode.Cancelled);
  });

  it("holds the server back while the consumer is slow (flow control)", async () => {
    let consumed = 0;
    let maxLead = 0;
    for await (const _msg of channel.serverStream(ProcessService.method.attach, { processId: "big" })) {
      consumed++;
      maxLead = Math.max(maxLead, log.produced - consumed);
      // A slow consumer: give the producer every chance to run ahead.
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    }
    expect(consumed).toBe(2000);
    // 2000 × 64 KiB were sent; without backpressure the producer would finish far ahead.
    // Windows, stream buffers and the socket hold a few MiB at most.
    expect(maxLead * BIG_CHUNK).toBeLessThan(16 * 1024 * 1024);
  });

  it("answers UNIMPLEMENTED for a service the server does not have", async () => {
    const err = await rejection(channel.unary(FileSystemService.method.stat, { path: "/" }));
    expect(err.code).toBe(ErrorCode.Unimplemented);
  });
});

describe("LeanChannel connection handling", () => {
  it("fails with UNAVAILABLE naming the target when nothing listens", async () => {
    const target = `unix://${join(dir, "nobody.sock")}`;
    const channel = LeanChannel.connect({ target });
    const err = await rejection(channel.unary(EnvironmentService.method.getInfo, {}));
    expect(err.code).toBe(ErrorCode.Unavailable);
    expect(err.message).toContain(target);
    await channel.close();
  });

  it("rejects bad targets and clear-text tokens to other hosts", () => {
    expect(() => LeanChannel.connect({ target: "http://x:1" })).toThrow(/unix:\/\/\/path/);
    expect(() => LeanChannel.connect({ target: "unix://relative.sock" })).toThrow(/absolute path/);
    expect(() => LeanChannel.connect({ target: "grpc://10.1.2.3:7000", token: "t" })).toThrow(/clear text/);
  });

  it("reports the end of the connection through onClose and fails later calls", async () => {
    const log = new ServerLog();
    const server = startServer(log);
    const socket = join(dir, "closing.sock");
    await bind(server, `unix://${socket}`, grpc.ServerCredentials.createInsecure());
    const channel = LeanChannel.connect({ target: `unix://${socket}` });
    await channel.unary(EnvironmentService.method.getInfo, {});
    const closed = new Promise<void>((resolve) => channel.onClose(() => resolve()));
    server.forceShutdown();
    await closed;
    const err = await rejection(channel.unary(EnvironmentService.method.getInfo, {}));
    expect(err.code).toBe(ErrorCode.Unavailable);
    await channel.close();
    await channel.close();
  });
});

describe("LeanChannel over TLS with a bearer token", () => {
  const log = new ServerLog();
  const server = startServer(log);
  let port = 0;
  let ca: Buffer;

  beforeAll(async () => {
    const key = join(dir, "key.pem");
    const cert = join(dir, "cert.pem");
    const cnf = join(dir, "openssl.cnf");
    writeFileSync(
      cnf,
      "[req]\ndistinguished_name=dn\nx509_extensions=ext\nprompt=no\n[dn]\nCN=tether-test\n[ext]\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:TRUE\n",
    );
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-config", cnf], { stdio: "ignore" });
    ca = readFileSync(cert);
    port = await bind(server, "127.0.0.1:0", grpc.ServerCredentials.createSsl(null, [{ private_key: readFileSync(key), cert_chain: ca }]));
  });
  afterAll(() => shutdown(server));

  it("verifies the server against the given CA and sends the token", async () => {
    const channel = LeanChannel.connect({ target: `grpcs://127.0.0.1:${port}`, token: "s3cret", caPem: ca });
    try {
      const info = await channel.unary(EnvironmentService.method.getInfo, {});
      expect(info.os).toBe("linux");
      expect(log.metadata?.get("authorization")).toEqual(["Bearer s3cret"]);
      let n = 0;
      for await (const _ of channel.serverStream(ProcessService.method.attach, { processId: "count" })) n++;
      expect(n).toBe(10_000);
    } finally {
      await channel.close();
    }
  });

  it("checks the certificate against serverName", async () => {
    const channel = LeanChannel.connect({ target: `grpcs://127.0.0.1:${port}`, caPem: ca, serverName: "localhost" });
    await expect(channel.unary(EnvironmentService.method.getInfo, {})).resolves.toBeDefined();
    await channel.close();
    const wrong = LeanChannel.connect({ target: `grpcs://127.0.0.1:${port}`, caPem: ca, serverName: "elsewhere.example" });
    const err = await rejection(wrong.unary(EnvironmentService.method.getInfo, {}));
    expect(err.code).toBe(ErrorCode.Unavailable);
    await wrong.close();
  });

  it("fails with UNAVAILABLE when the server's certificate is not trusted", async () => {
    const channel = LeanChannel.connect({ target: `grpcs://127.0.0.1:${port}` });
    const err = await rejection(channel.unary(EnvironmentService.method.getInfo, {}));
    expect(err.code).toBe(ErrorCode.Unavailable);
    expect(err.message).toMatch(/certificate/);
    await channel.close();
  });
});

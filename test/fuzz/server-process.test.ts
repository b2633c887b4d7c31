// The same kind of hostile requests against `tether exec-server` running as its own
// process: there an unhandled rejection or a throw outside a handler kills the server
// (in-process fuzzing only sees it as a test error). The server must survive every
// case and still serve.
import * as grpc from "@grpc/grpc-js";
import fc from "fast-check";
import type { DescMethod } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CanonicalizeRequestSchema, FileSystemService, ReadFileRequestSchema, StatRequestSchema } from "../../gen/tether/exec/v1/filesystem_pb.js";
import { ProcessService, SignalRequestSchema, StartRequestSchema } from "../../gen/tether/exec/v1/process_pb.js";
import { OpenSessionRequestSchema, SessionService } from "../../gen/tether/exec/v1/session_pb.js";
import { encodeWithBadUtf8, hostileId, hostileString, hostileUint32, hostileUint64 } from "../support/fuzz-arbitraries.js";
import { FuzzRawClient, TYPED_ERRORS, methodPath } from "../support/fuzz-raw-client.js";
import { fuzzClients } from "../support/fuzz-server.js";
import { type ServerProcess, startServerProcess } from "../support/load-server-process.js";

const RUNS = 120;

describe("tether exec-server process under hostile requests", () => {
  let server: ServerProcess;
  let raw: FuzzRawClient;
  let cases = 0;
  let died: string | undefined;

  beforeAll(async () => {
    server = await startServerProcess({ args: ["--sandbox", "read-only"] });
    void server.exited.then((e) => (died = `exec server exited ${JSON.stringify(e)}; stderr: ${server.stderr()}`));
    raw = new FuzzRawClient(server.url);
  });

  afterAll(async () => {
    raw?.close();
    await server?.stop();
    console.log(`server-process fuzz: ${cases} cases`);
  });

  async function run<T>(method: DescMethod, arb: fc.Arbitrary<T>, encode: (v: T) => fc.Arbitrary<Buffer>): Promise<void> {
    const found: string[] = [];
    await fc.assert(
      fc.asyncProperty(arb.chain(encode), async (body) => {
        cases++;
        const res = await raw.call(method, [body], 8000);
        if (res.code !== grpc.status.OK && !TYPED_ERRORS.has(res.code)) found.push(`${methodPath(method)} -> ${grpc.status[res.code]}: ${res.details.slice(0, 200)}`);
      }),
      { numRuns: RUNS },
    );
    expect(died).toBeUndefined();
    expect(found.join("\n")).toBe("");
  }

  const path = fc.oneof(hostileString, fc.string({ unit: "binary", maxLength: 30 }).map((s) => `/tmp/${s}`), fc.constantFrom("/proc/self/status", "/etc/passwd", "/nonexistent/é"));

  it("survives hostile file calls (error details carry client paths)", async () => {
    await run(FileSystemService.method.stat, fc.record({ path, noFollow: fc.boolean(), sessionId: hostileId }), encodeWithBadUtf8(StatRequestSchema, [1, 3]));
    await run(FileSystemService.method.readFile, fc.record({ path, offset: hostileUint64, length: hostileUint64 }), encodeWithBadUtf8(ReadFileRequestSchema, [1, 4]));
    await run(FileSystemService.method.canonicalize, fc.record({ path }), encodeWithBadUtf8(CanonicalizeRequestSchema, [1]));
  });

  it("survives hostile process and session calls", async () => {
    const spec = fc.record({ argv: fc.array(hostileString, { minLength: 1, maxLength: 3 }), cwd: path, timeouts: fc.record({ wallMs: fc.integer({ min: 1, max: 2000 }), killGraceMs: hostileUint32 }) });
    await run(ProcessService.method.start, fc.record({ processId: hostileId, spec, sessionId: hostileId }), encodeWithBadUtf8(StartRequestSchema, [1, 3]));
    const sig = fc.record({ processId: hostileId, signal: fc.oneof(hostileString.map((v) => ({ case: "name" as const, value: v })), hostileUint32.map((v) => ({ case: "number" as const, value: v | 0 }))) });
    await run(ProcessService.method.signal, sig, encodeWithBadUtf8(SignalRequestSchema, [1, 3]));
    await run(SessionService.method.openSession, fc.record({ sessionId: hostileId, detachedTtlMs: fc.integer({ min: 1, max: 5000 }) }), encodeWithBadUtf8(OpenSessionRequestSchema, [1]));
  });

  it("is alive and serving afterwards", async () => {
    expect(died).toBeUndefined();
    const c = fuzzClients(server.url);
    try {
      expect((await c.health.check({ service: "" })).status).toBe(1);
      await c.process.start({ processId: "after-process-fuzz", spec: { argv: ["sh", "-c", "exit 6"] } });
      expect((await c.process.wait({ processId: "after-process-fuzz" })).status?.code).toBe(6);
    } finally {
      c.raw.close();
    }
  });
});

// Random bytes as the request body of every RPC of the four exec services: the server
// answers each with a typed status (or a legitimate success), never INTERNAL or
// UNKNOWN, never crashes or hangs, and still serves normal work afterwards.
import * as grpc from "@grpc/grpc-js";
import fc from "fast-check";
import type { DescMethod } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnvironmentService } from "../../gen/tether/exec/v1/environment_pb.js";
import { FileSystemService } from "../../gen/tether/exec/v1/filesystem_pb.js";
import { ProcessService } from "../../gen/tether/exec/v1/process_pb.js";
import { SessionService } from "../../gen/tether/exec/v1/session_pb.js";
import { FuzzRawClient, TYPED_ERRORS, methodPath, rawField } from "../support/fuzz-raw-client.js";
import { type FuzzServer, startFuzzServer } from "../support/fuzz-server.js";

const METHODS: DescMethod[] = [ProcessService, SessionService, EnvironmentService, FileSystemService].flatMap((s) => s.methods);
const RUNS_PER_METHOD = 40;

/** Bytes that look like protobuf: field records with random numbers, wire types and payloads. */
const protobufish = fc
  .array(
    fc.oneof(
      fc.tuple(fc.integer({ min: 1, max: 20 }), fc.uint8Array({ maxLength: 64 })).map(([n, b]) => rawField(n, b)),
      fc.tuple(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 7 }), fc.uint8Array({ maxLength: 12 })).map(([n, wt, b]) =>
        Buffer.concat([Buffer.from([(n << 3) | wt]), Buffer.from(b)]),
      ),
    ),
    { maxLength: 8 },
  )
  .map((parts) => Buffer.concat(parts));

const body = fc.oneof(fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)), protobufish);

describe("exec server with random request bytes", () => {
  let fuzz: FuzzServer;
  let raw: FuzzRawClient;
  let cases = 0;
  const seen = new Map<string, Map<number, number>>();

  beforeAll(async () => {
    fuzz = await startFuzzServer();
    raw = new FuzzRawClient(fuzz.url);
  });

  afterAll(async () => {
    raw?.close();
    // Closing the core also closes any session a random body happened to open.
    await fuzz?.close();
    console.log(`raw-bytes fuzz: ${cases} cases over ${METHODS.length} methods`);
    for (const [path, codes] of seen) {
      console.log(`  ${path}: ${[...codes].map(([c, n]) => `${grpc.status[c]}×${n}`).join(" ")}`);
    }
  });

  for (const method of METHODS) {
    it(`answers ${methodPath(method)} with a typed status`, async () => {
      const counts = new Map<number, number>();
      seen.set(methodPath(method), counts);
      const bodies = method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming" ? fc.array(body, { minLength: 1, maxLength: 4 }) : body.map((b) => [b]);
      await fc.assert(
        fc.asyncProperty(bodies, async (reqs) => {
          cases++;
          const res = await raw.call(method, reqs, 10_000);
          counts.set(res.code, (counts.get(res.code) ?? 0) + 1);
          if (res.code === grpc.status.OK) return;
          expect(TYPED_ERRORS.has(res.code), `${methodPath(method)} -> ${grpc.status[res.code]}: ${res.details}`).toBe(true);
          expect(res.details.length).toBeGreaterThan(0);
        }),
        { numRuns: RUNS_PER_METHOD },
      );
    });
  }

  it("still serves health checks and a normal Start/Wait", async () => {
    expect(await fuzz.healthy()).toBe(true);
    const { process } = fuzz.clients;
    await process.start({ processId: "after-raw-fuzz", spec: { argv: ["sh", "-c", "exit 7"] } });
    const { status } = await process.wait({ processId: "after-raw-fuzz" });
    expect(status?.code).toBe(7);
  });
});

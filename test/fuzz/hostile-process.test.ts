// Structurally valid ProcessService, SessionService and EnvironmentService requests
// with hostile field values (invalid UTF-8, huge fields, uint32/uint64 extremes,
// unknown enum values, random signals, tty sizes and ids). Every call must get a
// typed status or a legitimate success; afterwards the server is healthy, a normal
// Start/Wait works, and every process a fuzz case started is gone.
import * as grpc from "@grpc/grpc-js";
import fc from "fast-check";
import type { DescMethod } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnvironmentService, GetInfoRequestSchema } from "../../gen/tether/exec/v1/environment_pb.js";
import {
  AttachRequestSchema,
  ListRequestSchema,
  OverflowPolicy,
  ProcessService,
  ResizeRequestSchema,
  SignalRequestSchema,
  StartRequestSchema,
  TerminateRequestSchema,
  WaitRequestSchema,
  WriteRequestSchema,
  WriteStreamRequestSchema,
} from "../../gen/tether/exec/v1/process_pb.js";
import { SandboxMode } from "../../gen/tether/exec/v1/sandbox_pb.js";
import {
  CloseSessionRequestSchema,
  DecideRequestSchema,
  DecrementElicitationRequestSchema,
  EventsRequestSchema,
  IncrementElicitationRequestSchema,
  OpenSessionRequestSchema,
  SessionService,
} from "../../gen/tether/exec/v1/session_pb.js";
import {
  encode,
  encodeWithBadUtf8,
  hostileBytes,
  hostileEnum,
  hostileId,
  hostileInt32,
  hostileString,
  hostileUint32,
  hostileUint64,
  signalNames,
} from "../support/fuzz-arbitraries.js";
import { FuzzRawClient, rawField, untypedAnswers, FUZZ_CALL_TIMEOUT_MS } from "../support/fuzz-raw-client.js";
import { type FuzzServer, startFuzzServer } from "../support/fuzz-server.js";

const P = ProcessService.method;
const S = SessionService.method;

const SESSION = "fuzz-owner";
const ELICIT_SESSION = "fuzz-elicit";
/** Live processes the cases aim at; all belong to SESSION. */
const CAT = "fuzz-cat";
const PTY = "fuzz-pty";
const EXITED = "fuzz-exited";
const signalVictims = Array.from({ length: 4 }, (_, i) => `fuzz-sig-${i}`);
const terminateVictims = Array.from({ length: 4 }, (_, i) => `fuzz-term-${i}`);



const knownOr = (ids: string[]) => fc.oneof({ arbitrary: fc.constantFrom(...ids), weight: 2 }, { arbitrary: hostileId, weight: 1 });

const programs = fc.oneof(
  { arbitrary: fc.constantFrom("true", "false", "/bin/true", "echo", "cat", "ls", "/nonexistent/prog", "..", ".", "/", "/etc/passwd", "/dev/null", "./x"), weight: 3 },
  { arbitrary: hostileString, weight: 1 },
);

describe("exec server with hostile process and session requests", () => {
  let fuzz: FuzzServer;
  let raw: FuzzRawClient;
  let cases = 0;
  const openedSessions = new Set<string>();
  const unexpected: string[] = [];

  async function property<T>(method: DescMethod, arb: fc.Arbitrary<T>, toBodies: (v: T) => fc.Arbitrary<Buffer[]> | Buffer[], runs: number) {
    const found = await untypedAnswers(raw, method, arb, toBodies, runs, () => cases++);
    unexpected.push(...found);
    expect(found.join("\n")).toBe("");
  }

  beforeAll(async () => {
    fuzz = await startFuzzServer();
    raw = new FuzzRawClient(fuzz.url);
    const { session, process } = fuzz.clients;
    await session.openSession({ sessionId: SESSION });
    await session.openSession({ sessionId: ELICIT_SESSION });
    const keep = { sandbox: { mode: SandboxMode.READ_ONLY }, output: { overflow: OverflowPolicy.DROP_OLDEST } };
    await process.start({ processId: CAT, sessionId: SESSION, spec: { argv: ["cat"], stdinOpen: true, ...keep } });
    await process.start({ processId: PTY, sessionId: SESSION, spec: { argv: ["cat"], stdinOpen: true, tty: { rows: 24, cols: 80 }, ...keep } });
    await process.start({ processId: EXITED, sessionId: SESSION, spec: { argv: ["true"], ...keep } });
    await process.wait({ processId: EXITED });
    for (const id of [...signalVictims, ...terminateVictims]) {
      await process.start({ processId: id, sessionId: SESSION, spec: { argv: ["sleep", "600"], ...keep } });
    }
  });

  afterAll(async () => {
    raw?.close();
    await fuzz?.close();
    console.log(`hostile process/session fuzz: ${cases} cases, ${unexpected.length} unexpected`);
    for (const u of unexpected.slice(0, 20)) console.log(`  ${u}`);
  });

  it("Start: hostile specs, ids and sessions", async () => {
    const spec = fc.record({
      argv: fc.tuple(programs, fc.array(hostileString, { maxLength: 4 })).map(([p, rest]) => [p, ...rest]),
      cwd: fc.oneof(fc.constant(""), hostileString, fc.constantFrom("/", "/proc", "/nonexistent", "/etc/passwd")),
      env: fc.dictionary(hostileString, hostileString, { maxKeys: 3 }),
      envPolicy: fc.record({ inherit: hostileEnum(3), exclude: fc.array(hostileString, { maxLength: 3 }) }),
      tty: fc.option(fc.record({ rows: hostileUint32, cols: hostileUint32 }), { nil: undefined }),
      stdinOpen: fc.boolean(),
      shell: hostileEnum(2),
      sandbox: fc.record({
        mode: fc.oneof(fc.constantFrom(SandboxMode.UNSPECIFIED, SandboxMode.READ_ONLY, SandboxMode.WORKSPACE_WRITE), fc.constantFrom(-1, 4, 99).map((n) => n as SandboxMode)),
        writableRoots: fc.array(fc.oneof(hostileString, fc.constantFrom("/nonexistent", "relative/dir")), { maxLength: 2 }),
        fileRules: fc.array(fc.record({ pattern: hostileString, access: hostileEnum(3) }), { maxLength: 2 }),
        network: fc.record({ mode: hostileEnum(3), allowHosts: fc.array(hostileString, { maxLength: 2 }), denyHosts: fc.array(hostileString, { maxLength: 2 }) }),
        allowedUnixSockets: fc.array(hostileString, { maxLength: 2 }),
      }),
      // Every started process is bounded: a wall timeout, and the owning session closes at the end.
      timeouts: fc.record({ wallMs: fc.integer({ min: 1, max: 5000 }), idleMs: hostileUint32, killGraceMs: fc.integer({ min: 0, max: 2000 }) }),
      output: fc.record({ overflow: hostileEnum(2), maxRetainedBytes: hostileUint64 }),
      labels: fc.dictionary(hostileString, hostileString, { maxKeys: 3 }),
    });
    const req = fc.record({ processId: hostileId, sessionId: fc.oneof({ arbitrary: fc.constant(SESSION), weight: 4 }, { arbitrary: hostileId, weight: 1 }), spec });
    const enc = encodeWithBadUtf8(StartRequestSchema, [1, 3]);
    await property(P.start, req, (r) =>
      fc.oneof(
        { arbitrary: enc(r), weight: 5 },
        // A bad-UTF-8 argv element or cwd inside the nested spec (nested records merge).
        { arbitrary: fc.tuple(fc.constantFrom(1, 2), fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([n, b]) => Buffer.concat([encode(StartRequestSchema, r), rawField(2, rawField(n, Uint8Array.from([...b, 0xff])))])), weight: 1 },
      ).map((b) => [b]),
      160,
    );
  });

  it("Attach: unknown ids, live and exited processes, uint64 cursors", async () => {
    const req = fc.record({ processId: knownOr([CAT, PTY, EXITED]), afterSeq: hostileUint64, allowGaps: fc.boolean() });
    await property(P.attach, req, (r) => encodeWithBadUtf8(AttachRequestSchema, [1])(r).map((b) => [b]), 150);
  });

  it("Write: huge data, hostile write ids, EOF", async () => {
    const req = fc.record({
      processId: knownOr([CAT, PTY, EXITED]),
      writeId: hostileString,
      data: hostileBytes(5 << 20),
      eof: fc.boolean().map((b) => b && Math.random() < 0.1),
    });
    await property(P.write, req, (r) => encodeWithBadUtf8(WriteRequestSchema, [1, 2])(r).map((b) => [b]), 150);
  });

  it("WriteStream: several requests per stream, hostile ids, offsets, data and EOF", async () => {
    const req = fc.record({
      processId: fc.oneof(fc.constant(""), knownOr([CAT, PTY, EXITED])),
      streamId: fc.oneof(fc.constant(""), fc.constantFrom("s1", "s2"), hostileString),
      offset: fc.oneof(fc.bigInt({ min: 0n, max: 64n }), hostileUint64),
      data: hostileBytes(5 << 20),
      eof: fc.boolean().map((b) => b && Math.random() < 0.1),
    });
    const enc = encodeWithBadUtf8(WriteStreamRequestSchema, [1, 2]);
    await property(P.writeStream, fc.array(req, { minLength: 1, maxLength: 4 }), (reqs) => fc.tuple(...reqs.map((r) => enc(r))), 120);
  });

  it("Signal: random numbers and names to live and unknown processes", async () => {
    const req = fc.record({
      processId: knownOr([...signalVictims, EXITED]),
      signal: fc.oneof(
        hostileInt32.map((n) => ({ case: "number" as const, value: n })),
        fc.oneof(signalNames, hostileString).map((s) => ({ case: "name" as const, value: s })),
        fc.constant({ case: undefined }),
      ),
      target: hostileEnum(2),
    });
    await property(P.signal, req, (r) => encodeWithBadUtf8(SignalRequestSchema, [1, 3])(r).map((b) => [b]), 150);
  });

  it("Resize: random tty sizes", async () => {
    const req = fc.record({ processId: knownOr([PTY, CAT, EXITED]), size: fc.option(fc.record({ rows: hostileUint32, cols: hostileUint32 }), { nil: undefined }) });
    await property(P.resize, req, (r) => encodeWithBadUtf8(ResizeRequestSchema, [1])(r).map((b) => [b]), 120);
  });

  it("Terminate: hostile grace periods", async () => {
    const req = fc.record({ processId: knownOr([...terminateVictims, EXITED]), graceMs: hostileUint32 });
    await property(P.terminate, req, (r) => encodeWithBadUtf8(TerminateRequestSchema, [1])(r).map((b) => [b]), 80);
  });

  it("List and Wait", async () => {
    const list = fc.record({ sessionId: fc.oneof(fc.constant(SESSION), hostileString), labels: fc.dictionary(hostileString, hostileString, { maxKeys: 3 }), includeExited: fc.boolean() });
    await property(P.list, list, (r) => encodeWithBadUtf8(ListRequestSchema, [1])(r).map((b) => [b]), 80);
    const wait = fc.record({ processId: fc.oneof(fc.constant(EXITED), hostileId) });
    await property(P.wait, wait, (r) => encodeWithBadUtf8(WaitRequestSchema, [1])(r).map((b) => [b]), 80);
  });

  it("OpenSession, Events and CloseSession", async () => {
    const open = fc.record({
      sessionId: hostileId,
      detachedTtlMs: hostileUint32,
      labels: fc.dictionary(hostileString, hostileString, { maxKeys: 3 }),
      defaultSandbox: fc.option(
        fc.record({ mode: hostileEnum(3), writableRoots: fc.array(hostileString, { maxLength: 2 }), fileRules: fc.array(fc.record({ pattern: hostileString, access: hostileEnum(3) }), { maxLength: 2 }) }),
        { nil: undefined },
      ),
    });
    await property(S.openSession, open, (r) => {
      if (/^[A-Za-z0-9._:-]{1,128}$/.test(r.sessionId)) openedSessions.add(r.sessionId);
      return encodeWithBadUtf8(OpenSessionRequestSchema, [1])(r).map((b) => [b]);
    }, 120);
    const events = fc.record({ sessionId: knownOr([SESSION, ELICIT_SESSION]), controller: fc.boolean() });
    await property(S.events, events, (r) => encodeWithBadUtf8(EventsRequestSchema, [1])(r).map((b) => [b]), 80);
    // Never the sessions the other cases rely on.
    const close = fc.record({ sessionId: hostileId.filter((id) => id !== SESSION && id !== ELICIT_SESSION) });
    await property(S.closeSession, close, (r) => encodeWithBadUtf8(CloseSessionRequestSchema, [1])(r).map((b) => [b]), 80);
  });

  it("Increment/DecrementElicitation and Decide", async () => {
    const id = fc.record({ sessionId: knownOr([ELICIT_SESSION]) });
    await property(S.incrementElicitation, id, (r) => encodeWithBadUtf8(IncrementElicitationRequestSchema, [1])(r).map((b) => [b]), 60);
    await property(S.decrementElicitation, id, (r) => encodeWithBadUtf8(DecrementElicitationRequestSchema, [1])(r).map((b) => [b]), 80);
    const decide = fc.record({ sessionId: knownOr([SESSION]), escalationId: hostileString, decision: hostileEnum(3), reason: hostileString });
    await property(S.decide, decide, (r) => encodeWithBadUtf8(DecideRequestSchema, [1, 2, 4])(r).map((b) => [b]), 80);
  });

  it("GetInfo with unknown fields", async () => {
    const extra = fc.array(fc.tuple(fc.integer({ min: 1, max: 100 }), fc.uint8Array({ maxLength: 32 })), { maxLength: 3 });
    await property(EnvironmentService.method.getInfo, extra, (records) => [Buffer.concat([encode(GetInfoRequestSchema, {}), ...records.map(([n, b]) => rawField(n, b))])], 30);
  });

  it("answers an error that echoes a huge field with a capped message, not a hang (8 KiB metadata limit)", async () => {
    const res = await raw.call(P.signal, [encode(SignalRequestSchema, { processId: signalVictims[0], signal: { case: "name", value: "x".repeat(200_000) } })], FUZZ_CALL_TIMEOUT_MS);
    expect(grpc.status[res.code]).toBe("INVALID_ARGUMENT");
    expect(res.details.length).toBeLessThan(1000);
  });

  it("treats uint32-max wall timeouts and grace periods as long, not as 1 ms (Node timer overflow)", async () => {
    const { process } = fuzz.clients;
    const max = 2 ** 32 - 1;
    await process.start({
      processId: "long-timeouts",
      sessionId: SESSION,
      spec: {
        argv: ["sh", "-c", "trap 'echo got-term' TERM; echo ready; until read x; do :; done; echo done; exit 0"],
        stdinOpen: true,
        // Unsandboxed: bwrap, the group leader in a sandbox, dies of TERM whatever the shell traps.
        sandbox: { mode: SandboxMode.FULL_ACCESS },
        timeouts: { wallMs: max, idleMs: max, killGraceMs: max },
      },
    });
    const seen: string[] = [];
    let exited: unknown;
    let terminating: Promise<unknown> | undefined;
    for await (const ev of process.attach({ processId: "long-timeouts" })) {
      if (ev.event.case === "output") {
        seen.push(Buffer.from(ev.event.value.data).toString());
        const text = seen.join("");
        // TERM with a 49-day grace: the shell's trap runs and nothing kills it.
        if (text.includes("ready") && !terminating) terminating = process.terminate({ processId: "long-timeouts", graceMs: max });
        if (text.includes("got-term") && !text.includes("done")) await process.write({ processId: "long-timeouts", data: Buffer.from("go\n") });
      }
      if (ev.event.case === "exited") {
        exited = ev.event.value.status;
        break;
      }
    }
    expect(exited).toMatchObject({ code: 0, timedOut: false });
    expect(seen.join("")).toContain("done");
    await terminating;
  });

  it("keeps serving: health, a normal Start/Wait, and no process left once the sessions close", async () => {
    expect(await fuzz.healthy()).toBe(true);
    const { process, session } = fuzz.clients;
    await process.start({ processId: "after-hostile-fuzz", spec: { argv: ["sh", "-c", "echo ok; exit 3"] } });
    expect((await process.wait({ processId: "after-hostile-fuzz" })).status?.code).toBe(3);
    for (const id of [SESSION, ELICIT_SESSION, ...openedSessions]) {
      await session.closeSession({ sessionId: id }).catch(() => undefined);
    }
    expect(fuzz.core.processes.runningCount).toBe(0);
    expect(await process.list({})).toMatchObject({ processes: [] });
    expect(unexpected).toEqual([]);
  });
});

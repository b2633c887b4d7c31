// The hand-written codecs must agree with the generated schemas byte for byte (requests) and
// field for field (responses); and they must work over LeanChannel against a grpc-js server.
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AttachRequestSchema,
  AttachResponseSchema,
  ProcessService,
  ResizeRequestSchema,
  SignalRequestSchema,
  StartRequestSchema,
  StartResponseSchema,
  WaitResponseSchema,
  WriteRequestSchema,
  WriteResponseSchema,
  WriteStreamRequestSchema,
  WriteStreamResponseSchema,
  type AttachResponse,
  type ExitStatus,
  type ProcessInfo,
} from "../../../gen/tether/exec/v1/process_pb.js";
import { OpenSessionRequestSchema, OpenSessionResponseSchema } from "../../../gen/tether/exec/v1/session_pb.js";
import { addService } from "../../../services/common/grpc-service.js";
import { ErrorCode, TetherError } from "../../../services/common/tether-error.js";
import { LeanChannel } from "./lean-channel.js";
import { ProcessWire, SessionWire, WriteStreamWire, type AttachResponseWire, type ExitStatusWire, type ProcessSummary, type StartRequestInit } from "./process-wire.js";

const u32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const i32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const i64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const str = fc.string({ unit: "grapheme", maxLength: 12 });
const strMap = fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), str, { maxKeys: 3 });
const bytes = fc.uint8Array({ maxLength: 40 });

const startInit: fc.Arbitrary<StartRequestInit> = fc.record(
  {
    processId: str,
    sessionId: str,
    spec: fc.record(
      {
        argv: fc.array(str, { maxLength: 4 }),
        cwd: str,
        env: strMap,
        tty: fc.record({ rows: u32, cols: u32 }),
        stdinOpen: fc.boolean(),
        shell: fc.integer({ min: 0, max: 2 }),
        timeouts: fc.record({ wallMs: u32, idleMs: u32, killGraceMs: u32 }, { requiredKeys: [] }),
        output: fc.record({ overflow: fc.integer({ min: 0, max: 2 }), maxRetainedBytes: u64 }, { requiredKeys: [] }),
        labels: strMap,
      },
      { requiredKeys: ["argv"] },
    ),
  },
  { requiredKeys: ["processId", "spec"] },
);

const exitStatus = fc.record(
  {
    code: i32,
    signal: i32,
    signalName: str,
    timedOut: fc.boolean(),
    timeoutKind: fc.integer({ min: 0, max: 2 }),
    oomKilled: fc.boolean(),
    wallTimeMs: u64,
    userCpuMs: u64,
    systemCpuMs: u64,
    maxRssKb: u64,
    reason: str,
  },
  { requiredKeys: [] },
);

const processInfo = fc.record({
  processId: str,
  sessionId: str,
  state: fc.integer({ min: 0, max: 2 }),
  pid: i32,
  startedAtMs: i64,
  firstRetainedSeq: u64,
  lastSeq: u64,
  // Fields the run path does not read must be skipped, not misread.
  droppedBytes: u64,
  paused: fc.boolean(),
  spec: fc.record({ argv: fc.array(str, { maxLength: 2 }), cwd: str }),
});

const attachEvent = fc.oneof(
  processInfo.map((value) => ({ case: "started" as const, value })),
  fc.record({ stream: fc.integer({ min: 0, max: 3 }), data: bytes }).map((value) => ({ case: "output" as const, value })),
  fc.record({ fromSeq: u64, toSeq: u64, droppedBytes: u64 }).map((value) => ({ case: "gap" as const, value })),
  fc.option(exitStatus, { nil: undefined }).map((status) => ({ case: "exited" as const, value: status ? { status } : {} })),
  fc.constant({ case: undefined }),
);

function summary(p: ProcessInfo): ProcessSummary {
  return { processId: p.processId, sessionId: p.sessionId, state: p.state, pid: p.pid, startedAtMs: p.startedAtMs, firstRetainedSeq: p.firstRetainedSeq, lastSeq: p.lastSeq };
}

function exit(s: ExitStatus): ExitStatusWire {
  const { $typeName: _t, $unknown: _u, ...rest } = s;
  const out: ExitStatusWire = { ...rest };
  if (out.code === undefined) delete out.code;
  if (out.signal === undefined) delete out.signal;
  return out;
}

/** What the hand decoder should yield for a generated AttachResponse. */
function project(m: AttachResponse): AttachResponseWire {
  const e = m.event;
  switch (e.case) {
    case "started":
      return { seq: m.seq, event: { case: "started", value: summary(e.value) } };
    case "output":
      return { seq: m.seq, event: { case: "output", value: { stream: e.value.stream, data: e.value.data } } };
    case "gap":
      return { seq: m.seq, event: { case: "gap", value: { fromSeq: e.value.fromSeq, toSeq: e.value.toSeq, droppedBytes: e.value.droppedBytes } } };
    case "exited":
      return { seq: m.seq, event: { case: "exited", value: e.value.status ? { status: exit(e.value.status) } : {} } };
    default:
      return { seq: m.seq, event: { case: undefined } };
  }
}

describe("ProcessWire requests", () => {
  it("encodes StartRequest exactly as the generated schema does", () => {
    fc.assert(
      fc.property(startInit, (init) => {
        expect(Buffer.from(ProcessWire.start.encode(init))).toEqual(Buffer.from(toBinary(StartRequestSchema, create(StartRequestSchema, init))));
      }),
    );
  });

  it("encodes Attach, Write, Signal and Resize requests exactly as the generated schema does", () => {
    fc.assert(
      fc.property(str, u64, fc.boolean(), bytes, fc.oneof(fc.integer({ min: 0, max: 64 }), str), (processId, afterSeq, flag, data, signal) => {
        const same = (a: Uint8Array, b: Uint8Array) => expect(Buffer.from(a)).toEqual(Buffer.from(b));
        same(ProcessWire.attach.encode({ processId, afterSeq, allowGaps: flag }), toBinary(AttachRequestSchema, create(AttachRequestSchema, { processId, afterSeq, allowGaps: flag })));
        same(ProcessWire.write.encode({ processId, writeId: processId, data, eof: flag }), toBinary(WriteRequestSchema, create(WriteRequestSchema, { processId, writeId: processId, data, eof: flag })));
        const oneof = typeof signal === "number" ? { case: "number" as const, value: signal } : { case: "name" as const, value: signal };
        same(ProcessWire.signal.encode({ processId, signal, target: 1 }), toBinary(SignalRequestSchema, create(SignalRequestSchema, { processId, signal: oneof, target: 1 })));
        same(ProcessWire.resize.encode({ processId, size: { rows: 24, cols: data.length } }), toBinary(ResizeRequestSchema, create(ResizeRequestSchema, { processId, size: { rows: 24, cols: data.length } })));
        same(
          SessionWire.openSession.encode({ sessionId: processId, detachedTtlMs: data.length, labels: { a: processId } }),
          toBinary(OpenSessionRequestSchema, create(OpenSessionRequestSchema, { sessionId: processId, detachedTtlMs: data.length, labels: { a: processId } })),
        );
      }),
    );
  });
});

describe("WriteStreamWire", () => {
  it("encodes requests and decodes answers exactly as the generated schemas do", () => {
    fc.assert(
      fc.property(fc.option(str, { nil: undefined }), fc.option(str, { nil: undefined }), fc.option(u64, { nil: undefined }), fc.option(bytes, { nil: undefined }), fc.boolean(), u64, (processId, streamId, offset, data, flag, applied) => {
        const req = { processId, streamId, offset, data, eof: flag };
        expect(Buffer.from(WriteStreamWire.encode(req))).toEqual(Buffer.from(toBinary(WriteStreamRequestSchema, create(WriteStreamRequestSchema, req))));
        const answer = { appliedOffset: applied, eof: flag };
        expect(WriteStreamWire.decode(toBinary(WriteStreamResponseSchema, create(WriteStreamResponseSchema, answer)))).toEqual(answer);
      }),
    );
  });
});

describe("ProcessWire responses", () => {
  it("decodes every AttachResponse event as the generated schema reads it", () => {
    fc.assert(
      fc.property(u64, attachEvent, (seq, event) => {
        const msg = create(AttachResponseSchema, { seq, event });
        const wire = ProcessWire.attach.decode(toBinary(AttachResponseSchema, msg));
        const expected = project(fromBinary(AttachResponseSchema, toBinary(AttachResponseSchema, msg)));
        expect(wire).toEqual(expected);
      }),
    );
  });

  it("decodes Start, Write, Wait and OpenSession responses", () => {
    fc.assert(
      fc.property(processInfo, fc.boolean(), exitStatus, u64, (info, flag, status, n) => {
        const start = ProcessWire.start.decode(toBinary(StartResponseSchema, create(StartResponseSchema, { process: info, created: flag })));
        expect(start).toEqual({ process: summary(create(StartResponseSchema, { process: info }).process!), created: flag });
        expect(ProcessWire.write.decode(toBinary(WriteResponseSchema, create(WriteResponseSchema, { bytesWritten: n, applied: flag })))).toEqual({ bytesWritten: n, applied: flag });
        const wait = create(WaitResponseSchema, { status });
        expect(ProcessWire.wait.decode(toBinary(WaitResponseSchema, wait))).toEqual({ status: exit(wait.status!) });
        const open = { sessionId: info.sessionId, resumed: flag, detachedTtlMs: 5, elicitationCount: 2 };
        expect(SessionWire.openSession.decode(toBinary(OpenSessionResponseSchema, create(OpenSessionResponseSchema, open)))).toEqual(open);
      }),
    );
  });
});

describe("ProcessWire over LeanChannel", () => {
  const dir = mkdtempSync(join(tmpdir(), "process-wire-"));
  const server = new grpc.Server();
  const refuse = async (): Promise<never> => {
    throw new TetherError(ErrorCode.Unimplemented, "not in this fake");
  };
  addService(server, ProcessService, {
    start: async (req) => ({ process: { processId: req.processId, pid: 77, spec: req.spec }, created: true }),
    async *attach(req) {
      yield { seq: 1n, event: { case: "started", value: { processId: req.processId, pid: 77 } } };
      yield { seq: 2n, event: { case: "output", value: { stream: 1, data: Buffer.from("hello\n") } } };
      yield { seq: 3n, event: { case: "exited", value: { status: { code: 3, wallTimeMs: 12n } } } };
    },
    write: refuse,
    writeStream: (): never => {
      throw new TetherError(ErrorCode.Unimplemented, "not in this fake");
    },
    signal: refuse,
    resize: refuse,
    terminate: refuse,
    list: refuse,
    wait: refuse,
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("starts and attaches without the generated descriptors", async () => {
    const socket = join(dir, "s.sock");
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
    const channel = LeanChannel.connect({ target: `unix://${socket}` });
    try {
      const started = await channel.unary(ProcessWire.start, { processId: "p", spec: { argv: ["sh", "-c", "exit 3"] } });
      expect(started).toMatchObject({ created: true, process: { processId: "p", pid: 77 } });
      const events: AttachResponseWire[] = [];
      for await (const ev of channel.serverStream(ProcessWire.attach, { processId: "p" })) events.push(ev);
      expect(events.map((e) => e.event.case)).toEqual(["started", "output", "exited"]);
      const exited = events[2]!.event;
      expect(exited.case === "exited" && exited.value.status?.code).toBe(3);
      const err = await channel.unary(ProcessWire.wait, { processId: "p" }).catch((e: unknown) => e);
      expect((err as TetherError).code).toBe(ErrorCode.Unimplemented);
    } finally {
      await channel.close();
    }
  });
});

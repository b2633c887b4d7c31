import { create, fromBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AttachResponseSchema, ExitStatusSchema, ProcessInfoSchema, ProcessSpecSchema, ProcessState } from "../../../gen/tether/exec/v1/process_pb.js";
import { type StartedSource, encodeStartedEvent } from "./started-event.js";

const counter = fc.oneof(fc.constant(0), fc.nat(), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));

const source = fc.record({
  id: fc.string(),
  sessionId: fc.string(),
  argv: fc.array(fc.string(), { minLength: 1, maxLength: 4 }),
  env: fc.dictionary(fc.string({ minLength: 1 }), fc.string(), { maxKeys: 4 }),
  startedAtMs: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  pid: fc.option(fc.integer({ min: 0, max: 4_194_304 }), { nil: undefined }),
  exit: fc.option(fc.record({ code: fc.option(fc.integer({ min: -128, max: 255 }), { nil: undefined }), signalName: fc.string(), wallTimeMs: fc.nat(), timedOut: fc.boolean() }), { nil: undefined }),
  paused: fc.boolean(),
  firstRetainedSeq: counter,
  lastSeq: counter,
  droppedBytes: counter,
  afterSeq: counter,
});

/** What ManagedProcess.info() builds from the same facts. */
function expected(p: StartedSource) {
  return create(ProcessInfoSchema, {
    processId: p.id,
    sessionId: p.sessionId,
    state: p.exitStatus === undefined ? ProcessState.RUNNING : ProcessState.EXITED,
    pid: p.child.pid,
    spec: p.spec,
    startedAtMs: BigInt(p.startedAtMs),
    exit: p.exitStatus,
    firstRetainedSeq: BigInt(p.log.firstRetainedSeq),
    lastSeq: BigInt(p.log.lastSeq),
    droppedBytes: BigInt(p.log.droppedBytes),
    paused: p.paused,
  });
}

describe("encodeStartedEvent", () => {
  it("decodes to the started event built from ProcessInfo, running or exited, every counter at 0 or not", () => {
    fc.assert(
      fc.property(source, (s) => {
        const p: StartedSource = {
          id: s.id,
          sessionId: s.sessionId,
          spec: create(ProcessSpecSchema, { argv: s.argv, env: s.env }),
          startedAtMs: s.startedAtMs,
          child: { pid: s.pid },
          exitStatus: s.exit && create(ExitStatusSchema, { ...s.exit, wallTimeMs: BigInt(s.exit.wallTimeMs) }),
          paused: s.paused,
          log: { firstRetainedSeq: s.firstRetainedSeq, lastSeq: s.lastSeq, droppedBytes: s.droppedBytes },
        };
        const got = fromBinary(AttachResponseSchema, encodeStartedEvent(s.afterSeq, p).bytes);
        expect(got).toEqual(create(AttachResponseSchema, { seq: BigInt(s.afterSeq), event: { case: "started", value: expected(p) } }));
      }),
      { numRuns: 300 },
    );
  });

  it("follows the process as it changes: the fixed part is cached, the counters and state are not", () => {
    const log = { firstRetainedSeq: 1, lastSeq: 3, droppedBytes: 0 };
    const p = { id: "p", sessionId: "", spec: create(ProcessSpecSchema, { argv: ["true"] }), startedAtMs: 5, child: { pid: 42 }, exitStatus: undefined as StartedSource["exitStatus"], paused: false, log };
    const decode = () => fromBinary(AttachResponseSchema, encodeStartedEvent(0, p).bytes).event;
    expect(decode()).toEqual({ case: "started", value: expected(p) });
    log.lastSeq = 9;
    log.droppedBytes = 300;
    p.paused = true;
    p.exitStatus = create(ExitStatusSchema, { code: 0, wallTimeMs: 12n });
    const later = decode();
    expect(later).toEqual({ case: "started", value: expected(p) });
    expect(later.case === "started" && later.value.state).toBe(ProcessState.EXITED);
  });
});

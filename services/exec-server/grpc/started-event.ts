// Attach's first event, AttachResponse{seq, started=ProcessInfo}, encoded without building
// the message: with 64 clients attaching at once, create(ProcessInfo) + create(AttachResponse)
// + toBinary of the whole spec on every Attach was ≈ 10 % of the server's CPU per Attach.
// What never changes (ids, pid, spec, start time) is encoded once per process; the rest
// (state, exit, the log's counters, paused) is appended as fields. Protobuf decodes fields in
// any order, so the bytes decode to exactly the message ManagedProcess.info() builds
// (started-event.test.ts compares them).
import { create, toBinary } from "@bufbuild/protobuf";
import { type ExitStatus, ExitStatusSchema, ProcessInfoSchema, type ProcessSpec, ProcessState } from "../../../gen/tether/exec/v1/process_pb.js";
import { PreEncoded, varintSize, writeVarint } from "../../common/pre-encoded.js";

/** What the started event says about a process (ManagedProcess has all of it). */
export interface StartedSource {
  readonly id: string;
  readonly sessionId: string;
  readonly spec: ProcessSpec;
  readonly startedAtMs: number;
  readonly child: { readonly pid: number | undefined };
  readonly exitStatus: ExitStatus | undefined;
  readonly paused: boolean;
  readonly log: { readonly firstRetainedSeq: number; readonly lastSeq: number; readonly droppedBytes: number };
}

/** ProcessInfo fields 1, 2, 4, 5, 6 per process; weak, so a forgotten process takes its bytes along. */
const fixedParts = new WeakMap<StartedSource, Uint8Array>();
/** ExitStatus bytes per status (set once per process). */
const exitParts = new WeakMap<ExitStatus, Uint8Array>();

function fixedPart(p: StartedSource): Uint8Array {
  let bytes = fixedParts.get(p);
  if (bytes === undefined) {
    const info = create(ProcessInfoSchema, { processId: p.id, sessionId: p.sessionId, pid: p.child.pid, spec: p.spec, startedAtMs: BigInt(p.startedAtMs) });
    bytes = toBinary(ProcessInfoSchema, info);
    fixedParts.set(p, bytes);
  }
  return bytes;
}

function exitPart(status: ExitStatus): Uint8Array {
  let bytes = exitParts.get(status);
  if (bytes === undefined) {
    bytes = toBinary(ExitStatusSchema, status);
    exitParts.set(status, bytes);
  }
  return bytes;
}

/** Varint field `tag` (wire type 0) unless `value` is 0 (proto3 leaves defaults out). */
function varintFieldSize(value: number): number {
  return value === 0 ? 0 : 1 + varintSize(value);
}

function putVarintField(buf: Uint8Array, o: number, tag: number, value: number): number {
  if (value === 0) return o;
  buf[o++] = tag;
  return writeVarint(buf, o, value);
}

/** The started event for an Attach that starts after `afterSeq` (its `seq`). */
export function encodeStartedEvent(afterSeq: number, p: StartedSource): PreEncoded {
  const fixed = fixedPart(p);
  const state = p.exitStatus === undefined ? ProcessState.RUNNING : ProcessState.EXITED;
  const exit = p.exitStatus === undefined ? undefined : exitPart(p.exitStatus);
  const { firstRetainedSeq, lastSeq, droppedBytes } = p.log;
  const paused = p.paused ? 1 : 0;
  const dynamicLen =
    varintFieldSize(state) +
    (exit === undefined ? 0 : 1 + varintSize(exit.byteLength) + exit.byteLength) +
    varintFieldSize(firstRetainedSeq) +
    varintFieldSize(lastSeq) +
    varintFieldSize(droppedBytes) +
    varintFieldSize(paused);
  const infoLen = fixed.byteLength + dynamicLen;
  // AttachResponse: seq = 1 (varint), started = 2 (length-delimited ProcessInfo). One buffer
  // (a single part goes through grpc-js as it is), not bulk: the stream does not wait for it
  // to reach the socket before reading the log, as it did not for the built message.
  const headLen = varintFieldSize(afterSeq) + 1 + varintSize(infoLen);
  const out = Buffer.allocUnsafe(headLen + infoLen);
  let o = putVarintField(out, 0, 0x08, afterSeq);
  out[o++] = 0x12;
  o = writeVarint(out, o, infoLen);
  out.set(fixed, o);
  o += fixed.byteLength;
  o = putVarintField(out, o, 0x18, state);
  if (exit !== undefined) {
    out[o++] = 0x3a;
    o = writeVarint(out, o, exit.byteLength);
    out.set(exit, o);
    o += exit.byteLength;
  }
  o = putVarintField(out, o, 0x40, firstRetainedSeq);
  o = putVarintField(out, o, 0x48, lastSeq);
  o = putVarintField(out, o, 0x50, droppedBytes);
  putVarintField(out, o, 0x58, paused);
  return PreEncoded.control(out);
}

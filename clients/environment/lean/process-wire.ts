// Hand-written protobuf codecs for the calls `tether run` makes (Start, Attach, Write, WriteStream,
// Signal, Resize, Wait, OpenSession (its sandbox: file-wire.ts), CloseSession). Booting the generated descriptors in gen/ costs
// more at start-up than the whole lean client, so the run path encodes these few messages
// itself. Field numbers mirror proto/tether/exec/v1; process-wire.test.ts checks every codec
// against the generated schemas, so drift fails a test. Shapes and names follow protobuf-es.
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import type { SandboxPolicyInit } from "../environment.js";
import { writeSandboxPolicy } from "./file-wire.js";
import type { WireMethod } from "./lean-channel.js";

const PROCESS = "/tether.exec.v1.ProcessService/";
const SESSION = "/tether.exec.v1.SessionService/";

export interface TtySizeInit {
  rows: number;
  cols: number;
}

/** The subset of ProcessSpec the run path sets; sandboxed runs use the generated schema. */
export interface ProcessSpecInit {
  argv: string[];
  cwd?: string;
  env?: Record<string, string>;
  tty?: TtySizeInit;
  stdinOpen?: boolean;
  /** ShellMode: 1 direct, 2 zsh-fork. */
  shell?: number;
  timeouts?: { wallMs?: number; idleMs?: number; killGraceMs?: number };
  /** OverflowPolicy: 1 block, 2 drop oldest. */
  output?: { overflow?: number; maxRetainedBytes?: bigint };
  labels?: Record<string, string>;
}

export interface StartRequestInit {
  processId: string;
  spec: ProcessSpecInit;
  sessionId?: string;
}

export interface ProcessSummary {
  processId: string;
  sessionId: string;
  state: number;
  pid: number;
  startedAtMs: bigint;
  firstRetainedSeq: bigint;
  lastSeq: bigint;
}

export interface ExitStatusWire {
  code?: number;
  signal?: number;
  signalName: string;
  timedOut: boolean;
  timeoutKind: number;
  oomKilled: boolean;
  wallTimeMs: bigint;
  userCpuMs: bigint;
  systemCpuMs: bigint;
  maxRssKb: bigint;
  reason: string;
  sandboxDenied: boolean;
  sandboxDenial: string;
}

export type AttachEvent =
  | { case: "started"; value: ProcessSummary }
  | { case: "output"; value: { stream: number; data: Uint8Array } }
  | { case: "gap"; value: { fromSeq: bigint; toSeq: bigint; droppedBytes: bigint } }
  | { case: "exited"; value: { status?: ExitStatusWire } }
  | { case: undefined; value?: undefined };

export interface AttachResponseWire {
  seq: bigint;
  event: AttachEvent;
}

type Decoder<T> = (r: BinaryReader, end: number) => T;

function decodeWith<T>(decode: Decoder<T>): (bytes: Uint8Array) => T {
  return (bytes) => {
    const r = new BinaryReader(bytes);
    return decode(r, r.len);
  };
}

/** Reads fields until `end`, handing each to `field`; unknown fields are skipped. */
function fields(r: BinaryReader, end: number, field: (no: number, wt: WireType) => boolean): void {
  while (r.pos < end) {
    const [no, wt] = r.tag();
    if (!field(no, wt)) r.skip(wt, no);
  }
}

/** Runs `decode` on a length-delimited sub-message. */
function sub<T>(r: BinaryReader, decode: Decoder<T>): T {
  const len = r.uint32();
  return decode(r, r.pos + len);
}

const big = (v: bigint | string): bigint => (typeof v === "bigint" ? v : BigInt(v));

function writeString(w: BinaryWriter, no: number, v: string | undefined): void {
  if (v) w.tag(no, WireType.LengthDelimited).string(v);
}

function writeUint32(w: BinaryWriter, no: number, v: number | undefined): void {
  if (v) w.tag(no, WireType.Varint).uint32(v);
}

function writeBool(w: BinaryWriter, no: number, v: boolean | undefined): void {
  if (v) w.tag(no, WireType.Varint).bool(v);
}

function writeMap(w: BinaryWriter, no: number, map: Record<string, string> | undefined): void {
  for (const [k, v] of Object.entries(map ?? {})) {
    w.tag(no, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string(k).tag(2, WireType.LengthDelimited).string(v).join();
  }
}

function writeSpec(w: BinaryWriter, spec: ProcessSpecInit): void {
  for (const arg of spec.argv) w.tag(1, WireType.LengthDelimited).string(arg);
  writeString(w, 2, spec.cwd);
  writeMap(w, 3, spec.env);
  if (spec.tty) {
    w.tag(5, WireType.LengthDelimited).fork();
    writeUint32(w, 1, spec.tty.rows);
    writeUint32(w, 2, spec.tty.cols);
    w.join();
  }
  writeBool(w, 6, spec.stdinOpen);
  if (spec.shell) w.tag(7, WireType.Varint).int32(spec.shell);
  if (spec.timeouts) {
    w.tag(9, WireType.LengthDelimited).fork();
    writeUint32(w, 1, spec.timeouts.wallMs);
    writeUint32(w, 2, spec.timeouts.idleMs);
    writeUint32(w, 3, spec.timeouts.killGraceMs);
    w.join();
  }
  if (spec.output) {
    w.tag(10, WireType.LengthDelimited).fork();
    if (spec.output.overflow) w.tag(1, WireType.Varint).int32(spec.output.overflow);
    if (spec.output.maxRetainedBytes) w.tag(2, WireType.Varint).uint64(spec.output.maxRetainedBytes);
    w.join();
  }
  writeMap(w, 11, spec.labels);
}

function encoder<T>(write: (w: BinaryWriter, req: T) => void): (req: T) => Uint8Array {
  return (req) => {
    const w = new BinaryWriter();
    write(w, req);
    return w.finish();
  };
}

const decodeSummary: Decoder<ProcessSummary> = (r, end) => {
  const p: ProcessSummary = { processId: "", sessionId: "", state: 0, pid: 0, startedAtMs: 0n, firstRetainedSeq: 0n, lastSeq: 0n };
  fields(r, end, (no) => {
    if (no === 1) p.processId = r.string();
    else if (no === 2) p.sessionId = r.string();
    else if (no === 3) p.state = r.int32();
    else if (no === 4) p.pid = r.int32();
    else if (no === 6) p.startedAtMs = big(r.int64());
    else if (no === 8) p.firstRetainedSeq = big(r.uint64());
    else if (no === 9) p.lastSeq = big(r.uint64());
    else return false;
    return true;
  });
  return p;
};

const decodeExit: Decoder<ExitStatusWire> = (r, end) => {
  const s: ExitStatusWire = { signalName: "", timedOut: false, timeoutKind: 0, oomKilled: false, wallTimeMs: 0n, userCpuMs: 0n, systemCpuMs: 0n, maxRssKb: 0n, reason: "", sandboxDenied: false, sandboxDenial: "" };
  fields(r, end, (no) => {
    if (no === 1) s.code = r.int32();
    else if (no === 2) s.signal = r.int32();
    else if (no === 3) s.signalName = r.string();
    else if (no === 4) s.timedOut = r.bool();
    else if (no === 5) s.timeoutKind = r.int32();
    else if (no === 6) s.oomKilled = r.bool();
    else if (no === 7) s.wallTimeMs = big(r.uint64());
    else if (no === 8) s.userCpuMs = big(r.uint64());
    else if (no === 9) s.systemCpuMs = big(r.uint64());
    else if (no === 10) s.maxRssKb = big(r.uint64());
    else if (no === 11) s.reason = r.string();
    else if (no === 12) s.sandboxDenied = r.bool();
    else if (no === 13) s.sandboxDenial = r.string();
    else return false;
    return true;
  });
  return s;
};

/** A message that holds only `status` (field 1): ProcessExited, WaitResponse. */
const decodeStatusHolder: Decoder<{ status?: ExitStatusWire }> = (r, end) => {
  const out: { status?: ExitStatusWire } = {};
  fields(r, end, (no) => (no === 1 ? ((out.status = sub(r, decodeExit)), true) : false));
  return out;
};

const decodeChunk: Decoder<{ stream: number; data: Uint8Array }> = (r, end) => {
  const value: { stream: number; data: Uint8Array } = { stream: 0, data: new Uint8Array(0) };
  fields(r, end, (no) => (no === 1 ? ((value.stream = r.int32()), true) : no === 2 ? ((value.data = r.bytes()), true) : false));
  return value;
};

const decodeGap: Decoder<{ fromSeq: bigint; toSeq: bigint; droppedBytes: bigint }> = (r, end) => {
  const value = { fromSeq: 0n, toSeq: 0n, droppedBytes: 0n };
  fields(r, end, (no) => {
    if (no === 1) value.fromSeq = big(r.uint64());
    else if (no === 2) value.toSeq = big(r.uint64());
    else if (no === 3) value.droppedBytes = big(r.uint64());
    else return false;
    return true;
  });
  return value;
};

const decodeAttach: Decoder<AttachResponseWire> = (r, end) => {
  const res: AttachResponseWire = { seq: 0n, event: { case: undefined } };
  fields(r, end, (no) => {
    if (no === 1) res.seq = big(r.uint64());
    else if (no === 2) res.event = { case: "started", value: sub(r, decodeSummary) };
    else if (no === 3) res.event = { case: "output", value: sub(r, decodeChunk) };
    else if (no === 4) res.event = { case: "gap", value: sub(r, decodeGap) };
    else if (no === 5) res.event = { case: "exited", value: sub(r, decodeStatusHolder) };
    else return false;
    return true;
  });
  return res;
};

const decodeEmpty: Decoder<Record<string, never>> = (r, end) => {
  fields(r, end, () => false);
  return {};
};

function method<Req, Res, K extends "unary" | "server_streaming">(
  path: string,
  kind: K,
  write: (w: BinaryWriter, req: Req) => void,
  decode: Decoder<Res>,
): WireMethod<Req, Res, K> {
  return { path, kind, encode: encoder(write), decode: decodeWith(decode) };
}

export interface WriteStreamRequestInit {
  processId?: string;
  streamId?: string;
  offset?: bigint;
  data?: Uint8Array;
  eof?: boolean;
}

/** WriteStream (bidi): stdin as one stream, resent from the first unacknowledged byte after a cut (StdinStreamWriter). */
export const WriteStreamWire: WireMethod<WriteStreamRequestInit, { appliedOffset: bigint; eof: boolean }, "bidi_streaming"> = {
  path: PROCESS + "WriteStream",
  kind: "bidi_streaming",
  encode: encoder<WriteStreamRequestInit>((w, req) => {
    writeString(w, 1, req.processId);
    writeString(w, 2, req.streamId);
    if (req.offset) w.tag(3, WireType.Varint).uint64(req.offset);
    if (req.data && req.data.byteLength > 0) w.tag(4, WireType.LengthDelimited).bytes(req.data);
    writeBool(w, 5, req.eof);
  }),
  decode: decodeWith((r, end) => {
    const out = { appliedOffset: 0n, eof: false };
    fields(r, end, (no) => (no === 1 ? ((out.appliedOffset = big(r.uint64())), true) : no === 2 ? ((out.eof = r.bool()), true) : false));
    return out;
  }),
};

export const ProcessWire = {
  start: method<StartRequestInit, { process?: ProcessSummary; created: boolean }, "unary">(
    PROCESS + "Start",
    "unary",
    (w, req) => {
      writeString(w, 1, req.processId);
      w.tag(2, WireType.LengthDelimited).fork();
      writeSpec(w, req.spec);
      w.join();
      writeString(w, 3, req.sessionId);
    },
    (r, end) => {
      const out: { process?: ProcessSummary; created: boolean } = { created: false };
      fields(r, end, (no) => {
        if (no === 1) out.process = sub(r, decodeSummary);
        else if (no === 2) out.created = r.bool();
        else return false;
        return true;
      });
      return out;
    },
  ),
  attach: method<{ processId: string; afterSeq?: bigint; allowGaps?: boolean }, AttachResponseWire, "server_streaming">(
    PROCESS + "Attach",
    "server_streaming",
    (w, req) => {
      writeString(w, 1, req.processId);
      if (req.afterSeq) w.tag(2, WireType.Varint).uint64(req.afterSeq);
      writeBool(w, 3, req.allowGaps);
    },
    decodeAttach,
  ),
  write: method<{ processId: string; writeId?: string; data?: Uint8Array; eof?: boolean }, { bytesWritten: bigint; applied: boolean }, "unary">(
    PROCESS + "Write",
    "unary",
    (w, req) => {
      writeString(w, 1, req.processId);
      writeString(w, 2, req.writeId);
      if (req.data && req.data.byteLength > 0) w.tag(3, WireType.LengthDelimited).bytes(req.data);
      writeBool(w, 4, req.eof);
    },
    (r, end) => {
      const out = { bytesWritten: 0n, applied: false };
      fields(r, end, (no) => (no === 1 ? ((out.bytesWritten = big(r.uint64())), true) : no === 2 ? ((out.applied = r.bool()), true) : false));
      return out;
    },
  ),
  signal: method<{ processId: string; signal: number | string; target?: number }, Record<string, never>, "unary">(
    PROCESS + "Signal",
    "unary",
    (w, req) => {
      writeString(w, 1, req.processId);
      // Oneof: set even when it is the zero value, so the server sees which member it is.
      if (typeof req.signal === "number") w.tag(2, WireType.Varint).int32(req.signal);
      else w.tag(3, WireType.LengthDelimited).string(req.signal);
      if (req.target) w.tag(4, WireType.Varint).int32(req.target);
    },
    decodeEmpty,
  ),
  resize: method<{ processId: string; size: TtySizeInit }, Record<string, never>, "unary">(
    PROCESS + "Resize",
    "unary",
    (w, req) => {
      writeString(w, 1, req.processId);
      w.tag(2, WireType.LengthDelimited).fork();
      writeUint32(w, 1, req.size.rows);
      writeUint32(w, 2, req.size.cols);
      w.join();
    },
    decodeEmpty,
  ),
  wait: method<{ processId: string }, { status?: ExitStatusWire }, "unary">(
    PROCESS + "Wait",
    "unary",
    (w, req) => writeString(w, 1, req.processId),
    decodeStatusHolder,
  ),
} as const;

export interface SessionReadyWire {
  sessionId: string;
  elicitationCount: number;
  pendingEscalations: number;
}

/**
 * EventsResponse: only SessionReady is decoded. The other members (escalations, elicitation
 * changes) matter to a session's controller, which the lean path never is; their case is
 * still reported so a caller can tell the stream is alive.
 */
export type SessionEventWire =
  | { case: "ready"; value: SessionReadyWire }
  | { case: "escalation" | "elicitation" | "escalationResolved"; value?: undefined }
  | { case: undefined; value?: undefined };

const OTHER_EVENTS = { 2: "escalation", 3: "elicitation", 4: "escalationResolved" } as const;

const decodeReady: Decoder<SessionReadyWire> = (r, end) => {
  const out: SessionReadyWire = { sessionId: "", elicitationCount: 0, pendingEscalations: 0 };
  fields(r, end, (no) => {
    if (no === 1) out.sessionId = r.string();
    else if (no === 2) out.elicitationCount = r.uint32();
    else if (no === 3) out.pendingEscalations = r.uint32();
    else return false;
    return true;
  });
  return out;
};

export const SessionWire = {
  openSession: method<
    { sessionId: string; detachedTtlMs?: number; labels?: Record<string, string>; defaultSandbox?: SandboxPolicyInit; decisionTimeoutMs?: number },
    { sessionId: string; resumed: boolean; detachedTtlMs: number; elicitationCount: number },
    "unary"
  >(
    SESSION + "OpenSession",
    "unary",
    (w, req) => {
      writeString(w, 1, req.sessionId);
      writeUint32(w, 2, req.detachedTtlMs);
      writeMap(w, 3, req.labels);
      if (req.defaultSandbox) writeSandboxPolicy(w, 4, req.defaultSandbox);
      writeUint32(w, 5, req.decisionTimeoutMs);
    },
    (r, end) => {
      const out = { sessionId: "", resumed: false, detachedTtlMs: 0, elicitationCount: 0 };
      fields(r, end, (no) => {
        if (no === 1) out.sessionId = r.string();
        else if (no === 2) out.resumed = r.bool();
        else if (no === 3) out.detachedTtlMs = r.uint32();
        else if (no === 4) out.elicitationCount = r.uint32();
        else return false;
        return true;
      });
      return out;
    },
  ),
  events: method<{ sessionId: string; controller?: boolean }, { event: SessionEventWire }, "server_streaming">(
    SESSION + "Events",
    "server_streaming",
    (w, req) => {
      writeString(w, 1, req.sessionId);
      writeBool(w, 2, req.controller);
    },
    (r, end) => {
      const out: { event: SessionEventWire } = { event: { case: undefined } };
      fields(r, end, (no, wt) => {
        if (no === 1) out.event = { case: "ready", value: sub(r, decodeReady) };
        else if (no === 2 || no === 3 || no === 4) {
          r.skip(wt, no);
          out.event = { case: OTHER_EVENTS[no] };
        } else return false;
        return true;
      });
      return out;
    },
  ),
  closeSession: method<{ sessionId: string }, { processesKilled: number }, "unary">(
    SESSION + "CloseSession",
    "unary",
    (w, req) => writeString(w, 1, req.sessionId),
    (r, end) => {
      const out = { processesKilled: 0 };
      fields(r, end, (no) => (no === 1 ? ((out.processesKilled = r.uint32()), true) : false));
      return out;
    },
  ),
} as const;

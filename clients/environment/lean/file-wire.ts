// Hand-written codecs for what an agent reads through a remote environment before its first
// model request (Stat and ReadFile: AGENTS.md), and the SandboxPolicy an OpenSession carries.
// Booting the generated descriptors costs more than the whole read (process-wire.ts says why);
// file-wire.test.ts checks each codec against the generated schemas, so drift fails a test.
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import type { FileInfo } from "../../../gen/tether/exec/v1/filesystem_pb.js";
import type { SandboxPolicyInit } from "../environment.js";
import type { WireMethod } from "./lean-channel.js";

const FILES = "/tether.exec.v1.FileSystemService/";

export interface StatRequestInit {
  path: string;
  noFollow?: boolean;
  sessionId?: string;
}

export interface ReadFileRequestInit {
  path: string;
  offset?: bigint;
  length?: bigint;
  sessionId?: string;
}

export interface ReadFileResponseWire {
  info?: FileInfo;
  offset: bigint;
  data: Uint8Array;
}

/** Writes a SandboxPolicy (all its fields) as field `no` of the message `w` is writing. */
export function writeSandboxPolicy(w: BinaryWriter, no: number, policy: SandboxPolicyInit): void {
  w.tag(no, WireType.LengthDelimited).fork();
  if (policy.mode) w.tag(1, WireType.Varint).int32(policy.mode);
  for (const root of policy.writableRoots ?? []) w.tag(2, WireType.LengthDelimited).string(root);
  for (const rule of policy.fileRules ?? []) {
    w.tag(3, WireType.LengthDelimited).fork();
    if (rule.pattern) w.tag(1, WireType.LengthDelimited).string(rule.pattern);
    if (rule.access) w.tag(2, WireType.Varint).int32(rule.access);
    w.join();
  }
  const net = policy.network;
  if (net) {
    w.tag(4, WireType.LengthDelimited).fork();
    if (net.mode) w.tag(1, WireType.Varint).int32(net.mode);
    for (const host of net.allowHosts ?? []) w.tag(2, WireType.LengthDelimited).string(host);
    for (const host of net.denyHosts ?? []) w.tag(3, WireType.LengthDelimited).string(host);
    if (net.askController) w.tag(4, WireType.Varint).bool(true);
    w.join();
  }
  for (const socket of policy.allowedUnixSockets ?? []) w.tag(5, WireType.LengthDelimited).string(socket);
  w.join();
}

/** Reads fields until `end`; unknown fields are skipped. */
function fields(r: BinaryReader, end: number, field: (no: number) => boolean): void {
  while (r.pos < end) {
    const [no, wt] = r.tag();
    if (!field(no)) r.skip(wt, no);
  }
}

const big = (v: bigint | string): bigint => (typeof v === "bigint" ? v : BigInt(v));

function decodeInfo(r: BinaryReader, end: number): FileInfo {
  const info: FileInfo = { $typeName: "tether.exec.v1.FileInfo", path: "", type: 0, size: 0n, mode: 0, mtimeMs: 0n, version: "", symlinkTarget: "" };
  fields(r, end, (no) => {
    if (no === 1) info.path = r.string();
    else if (no === 2) info.type = r.int32();
    else if (no === 3) info.size = big(r.uint64());
    else if (no === 4) info.mode = r.uint32();
    else if (no === 5) info.mtimeMs = big(r.int64());
    else if (no === 6) info.version = r.string();
    else if (no === 7) info.symlinkTarget = r.string();
    else return false;
    return true;
  });
  return info;
}

function subInfo(r: BinaryReader): FileInfo {
  const len = r.uint32();
  return decodeInfo(r, r.pos + len);
}

export const FileWire = {
  stat: {
    path: FILES + "Stat",
    kind: "unary",
    encode: (req) => {
      const w = new BinaryWriter();
      if (req.path) w.tag(1, WireType.LengthDelimited).string(req.path);
      if (req.noFollow) w.tag(2, WireType.Varint).bool(true);
      if (req.sessionId) w.tag(3, WireType.LengthDelimited).string(req.sessionId);
      return w.finish();
    },
    decode: (bytes) => {
      const r = new BinaryReader(bytes);
      const out: { info?: FileInfo } = {};
      fields(r, r.len, (no) => (no === 1 ? ((out.info = subInfo(r)), true) : false));
      return out;
    },
  } satisfies WireMethod<StatRequestInit, { info?: FileInfo }, "unary">,
  readFile: {
    path: FILES + "ReadFile",
    kind: "server_streaming",
    encode: (req) => {
      const w = new BinaryWriter();
      if (req.path) w.tag(1, WireType.LengthDelimited).string(req.path);
      if (req.offset) w.tag(2, WireType.Varint).uint64(req.offset);
      if (req.length) w.tag(3, WireType.Varint).uint64(req.length);
      if (req.sessionId) w.tag(4, WireType.LengthDelimited).string(req.sessionId);
      return w.finish();
    },
    decode: (bytes) => {
      const r = new BinaryReader(bytes);
      const out: ReadFileResponseWire = { offset: 0n, data: new Uint8Array(0) };
      fields(r, r.len, (no) => {
        if (no === 1) out.info = subInfo(r);
        else if (no === 2) out.offset = big(r.uint64());
        else if (no === 3) out.data = r.bytes();
        else return false;
        return true;
      });
      return out;
    },
  } satisfies WireMethod<ReadFileRequestInit, ReadFileResponseWire, "server_streaming">,
} as const;

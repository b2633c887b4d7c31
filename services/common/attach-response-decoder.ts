// AttachResponse decoded by hand on the grpc-js client when it is output (a PTY's every echo):
// fromBinary (reflective, a BinaryReader, a nested message) cost ≈ 5 µs of the client's CPU
// per keystroke. Anything else (started, gap, exited, unknown fields, a repeated field,
// seq >= 2^49) is left to fromBinary.
import { fromBinary } from "@bufbuild/protobuf";
import { type AttachResponse, AttachResponseSchema } from "../../gen/tether/exec/v1/process_pb.js";

/** A varint of at most 7 bytes at `at`: [value, next offset], or undefined. */
function varint(bytes: Uint8Array, at: number, end: number): [number, number] | undefined {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 7 && at < end; i++) {
    const b = bytes[at++]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) return [value, at];
    scale *= 128;
  }
  return undefined;
}

/** OutputChunk in bytes[start, end): stream (1, varint), data (2, bytes), each at most once. */
function outputChunk(bytes: Uint8Array, start: number, end: number): { stream: number; data: Uint8Array } | undefined {
  let stream: number | undefined;
  let data: Uint8Array | undefined;
  let at = start;
  while (at < end) {
    const tag = bytes[at++]!;
    if (tag === 0x08 && stream === undefined) {
      const v = varint(bytes, at, end);
      if (v === undefined || v[0] > 0x7fffffff) return undefined;
      [stream, at] = v;
    } else if (tag === 0x12 && data === undefined) {
      const v = varint(bytes, at, end);
      if (v === undefined || v[1] + v[0] > end) return undefined;
      data = new Uint8Array(bytes.buffer, bytes.byteOffset + v[1], v[0]);
      at = v[1] + v[0];
    } else {
      return undefined;
    }
  }
  return { stream: stream ?? 0, data: data ?? new Uint8Array(0) };
}

function decodeOutput(bytes: Uint8Array): AttachResponse | undefined {
  let seq: number | undefined;
  let chunk: { stream: number; data: Uint8Array } | undefined;
  let at = 0;
  const end = bytes.length;
  while (at < end) {
    const tag = bytes[at++]!;
    if (tag === 0x08 && seq === undefined) {
      const v = varint(bytes, at, end);
      if (v === undefined) return undefined;
      [seq, at] = v;
    } else if (tag === 0x1a && chunk === undefined) {
      const v = varint(bytes, at, end);
      if (v === undefined || v[1] + v[0] > end) return undefined;
      chunk = outputChunk(bytes, v[1], v[1] + v[0]);
      if (chunk === undefined) return undefined;
      at = v[1] + v[0];
    } else {
      return undefined;
    }
  }
  if (chunk === undefined) return undefined;
  return {
    $typeName: "tether.exec.v1.AttachResponse",
    seq: BigInt(seq ?? 0),
    event: { case: "output", value: { $typeName: "tether.exec.v1.OutputChunk", stream: chunk.stream, data: chunk.data } },
  };
}

export function decodeAttachResponse(bytes: Uint8Array): AttachResponse {
  return decodeOutput(bytes) ?? fromBinary(AttachResponseSchema, bytes);
}

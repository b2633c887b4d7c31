// WriteStreamRequest decoded by hand on the server: a keystroke is one such request, and
// protobuf-es's reflective fromBinary (a BinaryReader, a field loop over the descriptor, a
// BigInt for the offset) cost ≈ 2.6 µs of the exec server's ≈ 130 µs per pty-echo keystroke.
// Anything this does not expect (another field, another wire type, an offset of 2^49 or more,
// a truncated field) is left to fromBinary, which keeps unknown fields and reports errors.
import { fromBinary } from "@bufbuild/protobuf";
import { type WriteStreamRequest, WriteStreamRequestSchema } from "../../gen/tether/exec/v1/process_pb.js";

/** Reads a varint of at most 7 bytes (< 2^49) at `at`: [value, next offset], or undefined. */
function varint(bytes: Uint8Array, at: number): [number, number] | undefined {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 7 && at < bytes.length; i++) {
    const b = bytes[at++]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) return [value, at];
    scale *= 128;
  }
  return undefined;
}

function decodeFast(bytes: Uint8Array): WriteStreamRequest | undefined {
  let processId = "";
  let streamId = "";
  let offset = 0;
  let data: Uint8Array = new Uint8Array(0);
  let eof = false;
  let at = 0;
  const text = (start: number, end: number) => Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString("utf8");
  while (at < bytes.length) {
    const tag = bytes[at++]!;
    if (tag === 0x18 || tag === 0x28) {
      // offset (3) / eof (5): varints
      const v = varint(bytes, at);
      if (v === undefined) return undefined;
      at = v[1];
      if (tag === 0x18) offset = v[0];
      else eof = v[0] !== 0;
    } else if (tag === 0x0a || tag === 0x12 || tag === 0x22) {
      // process_id (1), stream_id (2), data (4): length-delimited
      const v = varint(bytes, at);
      if (v === undefined) return undefined;
      const start = v[1];
      const end = start + v[0];
      if (end > bytes.length) return undefined;
      if (tag === 0x0a) processId = text(start, end);
      else if (tag === 0x12) streamId = text(start, end);
      else data = new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start);
      at = end;
    } else {
      return undefined;
    }
  }
  return { $typeName: "tether.exec.v1.WriteStreamRequest", processId, streamId, offset: BigInt(offset), data, eof };
}

export function decodeWriteStreamRequest(bytes: Uint8Array): WriteStreamRequest {
  return decodeFast(bytes) ?? fromBinary(WriteStreamRequestSchema, bytes);
}

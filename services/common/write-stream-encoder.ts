// WriteStreamRequest encoded by hand on the grpc-js client: a keystroke is one such request,
// and create + toBinary (reflective, a BinaryWriter with its chunk list) cost ≈ 3 µs of the
// client's per-keystroke CPU. The bytes are what toBinary writes (fields in number order,
// defaults left out), which the test checks.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { WriteStreamRequestSchema } from "../../gen/tether/exec/v1/process_pb.js";

type Init = MessageInitShape<typeof WriteStreamRequestSchema>;

function varintSize(n: bigint): number {
  let size = 1;
  while (n >= 0x80n) {
    n >>= 7n;
    size++;
  }
  return size;
}

function putVarint(buf: Buffer, at: number, n: number | bigint): number {
  if (typeof n === "number" && n < 0x80) {
    buf[at] = n;
    return at + 1;
  }
  let v = BigInt(n);
  while (v >= 0x80n) {
    buf[at++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  buf[at++] = Number(v);
  return at;
}

export function encodeWriteStreamRequest(req: Init): Uint8Array {
  const processId = req.processId ?? "";
  const streamId = req.streamId ?? "";
  const offset = BigInt.asUintN(64, BigInt(req.offset ?? 0n));
  const data = req.data ?? new Uint8Array(0);
  const eof = req.eof ?? false;
  const pLen = processId === "" ? 0 : Buffer.byteLength(processId);
  const sLen = streamId === "" ? 0 : Buffer.byteLength(streamId);
  let size = 0;
  if (pLen > 0) size += 1 + varintSize(BigInt(pLen)) + pLen;
  if (sLen > 0) size += 1 + varintSize(BigInt(sLen)) + sLen;
  if (offset !== 0n) size += 1 + varintSize(offset);
  if (data.byteLength > 0) size += 1 + varintSize(BigInt(data.byteLength)) + data.byteLength;
  if (eof) size += 2;
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  if (pLen > 0) {
    buf[at++] = 0x0a;
    at = putVarint(buf, at, pLen);
    at += buf.write(processId, at, "utf8");
  }
  if (sLen > 0) {
    buf[at++] = 0x12;
    at = putVarint(buf, at, sLen);
    at += buf.write(streamId, at, "utf8");
  }
  if (offset !== 0n) {
    buf[at++] = 0x18;
    at = putVarint(buf, at, offset);
  }
  if (data.byteLength > 0) {
    buf[at++] = 0x22;
    at = putVarint(buf, at, data.byteLength);
    buf.set(data, at);
    at += data.byteLength;
  }
  if (eof) {
    buf[at++] = 0x28;
    buf[at++] = 1;
  }
  return buf;
}

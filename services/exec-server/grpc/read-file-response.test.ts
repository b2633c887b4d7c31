import { fromBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ReadFileResponseSchema } from "../../../gen/tether/exec/v1/filesystem_pb.js";
import { PreEncoded } from "../../common/pre-encoded.js";
import { READ_HEADROOM_BYTES } from "../fs/read-file.js";
import { encodeReadChunk } from "./read-file-response.js";

/** A chunk as the reader yields it: data after READ_HEADROOM_BYTES of free space. */
function chunkWithHeadroom(bytes: Uint8Array): Uint8Array {
  const buf = Buffer.alloc(READ_HEADROOM_BYTES + bytes.byteLength, 0xee);
  buf.set(bytes, READ_HEADROOM_BYTES);
  return buf.subarray(READ_HEADROOM_BYTES);
}

describe("encodeReadChunk", () => {
  it("decodes to the same message as the generic encoder would send", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.oneof(fc.constant(0), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })), (bytes, offset) => {
        const encoded = encodeReadChunk(offset, chunkWithHeadroom(bytes));
        expect(encoded).toBeInstanceOf(PreEncoded);
        const msg = fromBinary(ReadFileResponseSchema, (encoded as PreEncoded).bytes);
        expect(msg.offset).toBe(BigInt(offset));
        expect(Buffer.from(msg.data).equals(Buffer.from(bytes))).toBe(true);
        expect(msg.info).toBeUndefined();
      }),
    );
  });

  it("is one buffer sharing the data's memory, so the data is not copied", () => {
    const data = chunkWithHeadroom(Buffer.alloc(200_000, 7));
    const encoded = encodeReadChunk(1 << 20, data) as PreEncoded;
    expect(encoded.bytes.buffer).toBe(data.buffer);
    expect(encoded.bytes.byteOffset + encoded.bytes.byteLength).toBe(data.byteOffset + data.byteLength);
  });

  it("falls back to a plain message when the data has no room before it", () => {
    const data = Buffer.from("no headroom");
    const encoded = encodeReadChunk(5, new Uint8Array(data.buffer.slice(0), 0, data.byteLength));
    expect(encoded).toEqual({ offset: 5n, data: expect.any(Uint8Array) });
  });
});

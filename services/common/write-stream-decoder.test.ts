import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { WriteStreamRequestSchema } from "../../gen/tether/exec/v1/process_pb.js";
import { decodeWriteStreamRequest } from "./write-stream-decoder.js";

describe("decodeWriteStreamRequest", () => {
  it("decodes exactly as fromBinary does, for any request", () => {
    fc.assert(
      fc.property(
        fc.record({
          processId: fc.string(),
          streamId: fc.string(),
          offset: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
          data: fc.uint8Array({ maxLength: 300 }),
          eof: fc.boolean(),
        }),
        (init) => {
          const bytes = toBinary(WriteStreamRequestSchema, create(WriteStreamRequestSchema, init));
          expect(decodeWriteStreamRequest(bytes)).toEqual(fromBinary(WriteStreamRequestSchema, bytes));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("a keystroke after the first request: offset, one byte", () => {
    const bytes = toBinary(WriteStreamRequestSchema, create(WriteStreamRequestSchema, { offset: 12345n, data: Uint8Array.of(0x78) }));
    const req = decodeWriteStreamRequest(bytes);
    expect(req).toEqual(fromBinary(WriteStreamRequestSchema, bytes));
    expect(req.offset).toBe(12345n);
    expect([...req.data]).toEqual([0x78]);
  });

  it("leaves unknown fields and malformed bytes to fromBinary", () => {
    // field 9 (varint) is unknown: kept by fromBinary in $unknown.
    const unknown = Uint8Array.of(0x22, 0x01, 0x78, 0x48, 0x01);
    expect(decodeWriteStreamRequest(unknown)).toEqual(fromBinary(WriteStreamRequestSchema, unknown));
    // data says 5 bytes, 1 follows.
    expect(() => decodeWriteStreamRequest(Uint8Array.of(0x22, 0x05, 0x78))).toThrow();
  });
});

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AttachResponseSchema, OutputStream } from "../../gen/tether/exec/v1/process_pb.js";
import { decodeAttachResponse } from "./attach-response-decoder.js";

function same(bytes: Uint8Array): void {
  expect(decodeAttachResponse(bytes)).toEqual(fromBinary(AttachResponseSchema, bytes));
}

describe("decodeAttachResponse", () => {
  it("decodes output exactly as fromBinary does", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.constantFrom(OutputStream.UNSPECIFIED, OutputStream.STDOUT, OutputStream.STDERR, 7),
        fc.uint8Array({ maxLength: 300 }),
        (seq, stream, data) => {
          same(toBinary(AttachResponseSchema, create(AttachResponseSchema, { seq, event: { case: "output", value: { stream, data } } })));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("leaves the other events, unknown fields and malformed bytes to fromBinary", () => {
    same(toBinary(AttachResponseSchema, create(AttachResponseSchema, { seq: 9n, event: { case: "gap", value: { fromSeq: 1n, toSeq: 5n, droppedBytes: 10n } } })));
    same(toBinary(AttachResponseSchema, create(AttachResponseSchema, { seq: 3n, event: { case: "exited", value: { status: { code: 1 } } } })));
    same(toBinary(AttachResponseSchema, create(AttachResponseSchema, { seq: 4n })));
    // output, then an unknown varint field 9
    same(Uint8Array.of(0x08, 0x01, 0x1a, 0x03, 0x12, 0x01, 0x78, 0x48, 0x01));
    // output's data says 5 bytes, 1 follows
    expect(() => decodeAttachResponse(Uint8Array.of(0x08, 0x01, 0x1a, 0x03, 0x12, 0x05, 0x78))).toThrow();
  });
});

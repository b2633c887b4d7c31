import { create, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { WriteStreamRequestSchema } from "../../gen/tether/exec/v1/process_pb.js";
import { encodeWriteStreamRequest } from "./write-stream-encoder.js";

describe("encodeWriteStreamRequest", () => {
  it("writes the bytes toBinary writes, for any request", () => {
    fc.assert(
      fc.property(
        fc.record({
          processId: fc.string({ unit: "grapheme" }),
          streamId: fc.string(),
          offset: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
          data: fc.uint8Array({ maxLength: 300 }),
          eof: fc.boolean(),
        }),
        (init) => {
          expect([...encodeWriteStreamRequest(init)]).toEqual([...toBinary(WriteStreamRequestSchema, create(WriteStreamRequestSchema, init))]);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("a keystroke: offset and one byte; an empty request is empty", () => {
    const init = { processId: "", streamId: "", offset: 300n, data: Uint8Array.of(0x78), eof: false };
    expect([...encodeWriteStreamRequest(init)]).toEqual([...toBinary(WriteStreamRequestSchema, create(WriteStreamRequestSchema, init))]);
    expect(encodeWriteStreamRequest({}).byteLength).toBe(0);
  });
});

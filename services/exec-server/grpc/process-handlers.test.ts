import { create, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AttachResponseSchema } from "../../../gen/tether/exec/v1/process_pb.js";
import { encodeOutputEvent } from "./process-handlers.js";

describe("encodeOutputEvent", () => {
  it("writes exactly the bytes the generated encoder writes", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), fc.constantFrom(1, 2, 3), fc.uint8Array({ minLength: 1, maxLength: 70_000 }), fc.nat(), (seq, stream, data, cut) => {
        const expected = toBinary(
          AttachResponseSchema,
          create(AttachResponseSchema, { seq: BigInt(seq), event: { case: "output", value: { stream, data } } }),
        );
        // The data as one buffer, and split in two as a merge of two chunks is.
        const at = cut % data.byteLength;
        const pieces = at === 0 ? [data] : [data.subarray(0, at), data.subarray(at)];
        expect(Buffer.from(encodeOutputEvent(seq, stream, pieces).bytes).equals(Buffer.from(expected))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

import { create, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AttachResponseSchema } from "../../../gen/tether/exec/v1/process_pb.js";
import { encodeOutputEvent } from "./process-handlers.js";

describe("encodeOutputEvent", () => {
  it("writes exactly the bytes the generated encoder writes", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), fc.constantFrom(1, 2, 3), fc.uint8Array({ minLength: 1, maxLength: 70_000 }), (seq, stream, data) => {
        const expected = toBinary(
          AttachResponseSchema,
          create(AttachResponseSchema, { seq: BigInt(seq), event: { case: "output", value: { stream, data } } }),
        );
        expect(Buffer.from(encodeOutputEvent(seq, stream, data).bytes).equals(Buffer.from(expected))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

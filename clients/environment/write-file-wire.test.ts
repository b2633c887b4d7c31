import { fromBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { WriteFileRequestSchema } from "../../gen/tether/exec/v1/filesystem_pb.js";
import { encodeWriteData } from "./write-file-wire.js";

describe("encodeWriteData", () => {
  it("decodes as a WriteFileRequest data part with the same bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20_000 }), (bytes) => {
        const msg = fromBinary(WriteFileRequestSchema, encodeWriteData(bytes).bytes);
        expect(msg.part.case).toBe("data");
        expect(Buffer.from(msg.part.value as Uint8Array).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

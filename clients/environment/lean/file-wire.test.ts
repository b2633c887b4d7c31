// FileWire and the sandbox of SessionWire.openSession against the generated schemas: requests
// byte for byte, responses field for field.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ReadFileRequestSchema, ReadFileResponseSchema, StatRequestSchema, StatResponseSchema } from "../../../gen/tether/exec/v1/filesystem_pb.js";
import { OpenSessionRequestSchema } from "../../../gen/tether/exec/v1/session_pb.js";
import { FileWire } from "./file-wire.js";
import { SessionWire } from "./process-wire.js";

const str = fc.string({ unit: "grapheme", maxLength: 12 });
const u32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const i64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const enumOf = (max: number) => fc.integer({ min: 0, max });

const sandbox = fc.record(
  {
    mode: enumOf(3),
    writableRoots: fc.array(str, { maxLength: 3 }),
    fileRules: fc.array(fc.record({ pattern: str, access: enumOf(3) }), { maxLength: 3 }),
    network: fc.record({ mode: enumOf(3), allowHosts: fc.array(str, { maxLength: 2 }), denyHosts: fc.array(str, { maxLength: 2 }), askController: fc.boolean() }, { requiredKeys: [] }),
    allowedUnixSockets: fc.array(str, { maxLength: 2 }),
  },
  { requiredKeys: [] },
);

const fileInfo = fc.record({ path: str, type: enumOf(4), size: u64, mode: u32, mtimeMs: i64, version: str, symlinkTarget: str });

describe("SessionWire.openSession", () => {
  it("encodes a default sandbox and decision timeout as the generated schema does", () => {
    fc.assert(
      fc.property(str, u32, fc.option(sandbox, { nil: undefined }), u32, (sessionId, detachedTtlMs, defaultSandbox, decisionTimeoutMs) => {
        const init = { sessionId, detachedTtlMs, defaultSandbox, decisionTimeoutMs };
        expect(Buffer.from(SessionWire.openSession.encode(init))).toEqual(Buffer.from(toBinary(OpenSessionRequestSchema, create(OpenSessionRequestSchema, init))));
      }),
    );
  });
});

describe("FileWire", () => {
  it("encodes Stat and ReadFile requests as the generated schema does", () => {
    fc.assert(
      fc.property(str, fc.boolean(), str, u64, u64, (path, noFollow, sessionId, offset, length) => {
        expect(Buffer.from(FileWire.stat.encode({ path, noFollow, sessionId }))).toEqual(Buffer.from(toBinary(StatRequestSchema, create(StatRequestSchema, { path, noFollow, sessionId }))));
        const read = { path, offset, length, sessionId };
        expect(Buffer.from(FileWire.readFile.encode(read))).toEqual(Buffer.from(toBinary(ReadFileRequestSchema, create(ReadFileRequestSchema, read))));
      }),
    );
  });

  it("decodes Stat and ReadFile responses field for field", () => {
    fc.assert(
      fc.property(fileInfo, fc.boolean(), u64, fc.uint8Array({ maxLength: 16 }), (info, withInfo, offset, data) => {
        const stat = toBinary(StatResponseSchema, create(StatResponseSchema, { info }));
        expect(FileWire.stat.decode(stat)).toEqual({ info: fromBinary(StatResponseSchema, stat).info });
        const res = create(ReadFileResponseSchema, { ...(withInfo ? { info } : {}), offset, data });
        const bytes = toBinary(ReadFileResponseSchema, res);
        const generated = fromBinary(ReadFileResponseSchema, bytes);
        expect(FileWire.readFile.decode(bytes)).toEqual({ ...(withInfo ? { info: generated.info } : {}), offset: generated.offset, data: generated.data });
      }),
    );
  });
});

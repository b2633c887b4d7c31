import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { codeName, decodeStatus, encodeStatus, percentDecode, percentEncode } from "./status-codec.js";
import { ErrorCode, TetherError } from "./tether-error.js";

describe("status codec", () => {
  it("percent-decodes what it percent-encodes, for any string (lone surrogates become U+FFFD)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 64 }), (text) => {
        const wire = percentEncode(text);
        expect(wire).toMatch(/^[\x20-\x7e]*$/);
        expect(percentDecode(wire)).toBe(Buffer.from(text, "utf8").toString("utf8"));
      }),
    );
  });

  it("encodes a literal % so a printable value that looks encoded survives the trip", () => {
    expect(percentEncode("100%20")).toBe("100%2520");
    expect(percentDecode(percentEncode("100%20"))).toBe("100%20");
  });

  it("keeps a malformed sequence as sent", () => {
    expect(percentDecode("100%")).toBe("100%");
    expect(percentDecode("%zz ü")).toBe("%zz ü");
  });

  it("rebuilds the server's TetherError from its wire status: code, message, decoded details", () => {
    const err = new TetherError(ErrorCode.OutOfRange, "cursor 3 is gone: café", { details: { oldest_seq: "17", path: "/tmp/ü 100%" } });
    const wire = encodeStatus(err);
    expect(Object.values(wire.trailers).every((v) => /^[\x20-\x7e]*$/.test(v))).toBe(true);
    const back = decodeStatus(wire.code, percentEncode(wire.message), Object.entries(wire.trailers), { encoded: true });
    expect(back.code).toBe(ErrorCode.OutOfRange);
    expect(back.message).toBe("cursor 3 is gone: café");
    expect(back.details).toEqual({ oldest_seq: "17", path: "/tmp/ü 100%" });
  });

  it("names codes as gRPC does, and an unknown status says which it was", () => {
    expect(codeName(ErrorCode.InvalidArgument)).toBe("INVALID_ARGUMENT");
    expect(codeName(ErrorCode.Unauthenticated)).toBe("UNAUTHENTICATED");
    const odd = decodeStatus(99, "", []);
    expect(odd.code).toBe(ErrorCode.Unknown);
    expect(odd.message).toMatch(/status 99/);
  });
});

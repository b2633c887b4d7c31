import { describe, expect, it } from "vitest";
import { ErrorCode, TetherError } from "../../../services/common/tether-error.js";
import { FrameDecoder, encodeFrame } from "./grpc-frame.js";
import { encodeTimeout, percentDecode, statusFromHeaders } from "./grpc-call-status.js";

function split(buf: Buffer, size: number): Buffer[] {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return parts;
}

function thrown(fn: () => unknown): TetherError {
  try {
    fn();
  } catch (err) {
    return err as TetherError;
  }
  throw new Error("expected a throw");
}

describe("FrameDecoder", () => {
  const messages = [Buffer.from("hello"), Buffer.alloc(0), Buffer.alloc(70_000, 7), Buffer.from("z")];
  const wire = Buffer.concat(messages.map((m) => encodeFrame(m)));

  it.each([1, 3, 5, 16_384, wire.length])("rebuilds messages split into %i-byte chunks", (size) => {
    const decoder = new FrameDecoder(1 << 20);
    const out = split(wire, size).flatMap((c) => decoder.push(c));
    expect(out.map((m) => Buffer.from(m))).toEqual(messages);
    expect(() => decoder.finish()).not.toThrow();
  });

  it("refuses a message over the limit before buffering it", () => {
    const decoder = new FrameDecoder(10);
    expect(thrown(() => decoder.push(encodeFrame(Buffer.alloc(11)).subarray(0, 5))).code).toBe(ErrorCode.ResourceExhausted);
  });

  it("refuses compressed messages", () => {
    const frame = encodeFrame(Buffer.from("x"));
    frame[0] = 1;
    expect(thrown(() => new FrameDecoder(100).push(frame)).message).toMatch(/compressed/);
  });

  it("reports a stream that ends inside a message", () => {
    const decoder = new FrameDecoder(100);
    decoder.push(encodeFrame(Buffer.from("abc")).subarray(0, 6));
    expect(thrown(() => decoder.finish()).code).toBe(ErrorCode.Internal);
  });
});

describe("grpc-call-status", () => {
  it("reads status, percent-decoded message and tether details", () => {
    const err = statusFromHeaders({ "grpc-status": "5", "grpc-message": "no%20such%20file%3A%20%C3%BC", "tether-path": "/x" });
    expect(err?.code).toBe(ErrorCode.NotFound);
    expect(err?.message).toBe("no such file: ü");
    expect(err?.details).toEqual({ path: "/x" });
    expect(statusFromHeaders({ "grpc-status": "0" })).toBeNull();
    expect(statusFromHeaders({})).toBeUndefined();
    expect(statusFromHeaders({ "grpc-status": "99" })?.code).toBe(ErrorCode.Unknown);
  });

  it("keeps a malformed percent-encoding as sent", () => {
    expect(percentDecode("100%")).toBe("100%");
  });

  it("encodes grpc-timeout within 8 digits", () => {
    expect(encodeTimeout(250)).toBe("250m");
    expect(encodeTimeout(1e9)).toBe("1000000S");
  });
});

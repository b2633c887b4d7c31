import { describe, expect, it } from "vitest";
import { ErrorCode, TetherError } from "../../../services/common/tether-error.js";
import { Readable } from "node:stream";
import { FrameDecoder, encodeFrame, readMessages } from "./grpc-frame.js";
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

describe("readMessages", () => {
  const messages = Array.from({ length: 40 }, (_, i) => Buffer.alloc(1000 + i * 997, i));
  const wire = Buffer.concat(messages.map((m) => encodeFrame(m)));

  it("yields every message in order and ends with the stream", async () => {
    const got: Buffer[] = [];
    for await (const m of readMessages(Readable.from(split(wire, 4096)), new FrameDecoder(1 << 20))) got.push(Buffer.from(m));
    expect(got).toEqual(messages);
  });

  it("pauses the stream while decoded messages wait for the consumer", async () => {
    const stream = Readable.from(split(wire, 4096));
    const reader = readMessages(stream, new FrameDecoder(1 << 20));
    await reader.next();
    expect(stream.isPaused()).toBe(true);
    expect(stream.readableEnded).toBe(false);
    await reader.return();
  });

  it("runs onFirstChunk before decoding and fails with what it throws", async () => {
    const bad = new TetherError(ErrorCode.Internal, "bad headers");
    const reader = readMessages(Readable.from([wire]), new FrameDecoder(1 << 20), () => {
      throw bad;
    });
    await expect(reader.next()).rejects.toBe(bad);
  });

  it("delivers the messages before a stream error, then the error", async () => {
    const boom = new Error("reset");
    const stream = new Readable({ read() {} });
    stream.push(encodeFrame(messages[0]!));
    const reader = readMessages(stream, new FrameDecoder(1 << 20));
    expect(Buffer.from((await reader.next()).value as Buffer)).toEqual(messages[0]);
    stream.destroy(boom);
    await expect(reader.next()).rejects.toBe(boom);
  });

  it("fails when the stream closes before it ends", async () => {
    const stream = new Readable({ read() {} });
    const reader = readMessages(stream, new FrameDecoder(1 << 20));
    const next = reader.next();
    stream.destroy();
    await expect(next).rejects.toMatchObject({ code: "ERR_STREAM_PREMATURE_CLOSE" });
  });

  it("destroys the stream when the consumer leaves early", async () => {
    const stream = Readable.from(split(wire, 4096));
    for await (const _ of readMessages(stream, new FrameDecoder(1 << 20))) break;
    expect(stream.destroyed).toBe(true);
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

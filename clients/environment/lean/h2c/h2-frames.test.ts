// FrameReader cuts frames out of a byte stream however it is split, and refuses oversized ones.
import { describe, expect, it } from "vitest";
import { ConnectionError, Flag, FrameReader, FrameType, encodeFrame, frameHeader } from "./h2-frames.js";

const wire = Buffer.concat([
  encodeFrame(FrameType.SETTINGS, 0, 0, Buffer.alloc(12, 1)),
  encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, 1, Buffer.from("headers")),
  encodeFrame(FrameType.DATA, 0, 1, Buffer.alloc(300, 7)),
  encodeFrame(FrameType.DATA, Flag.END_STREAM, 1),
  encodeFrame(FrameType.PING, Flag.ACK, 0, Buffer.alloc(8, 9)),
]);

function summary(frames: { type: number; flags: number; streamId: number; payload: Buffer }[]): string[] {
  return frames.map((f) => `${f.type}/${f.flags}/${f.streamId}/${f.payload.toString("hex")}`);
}

describe("FrameReader", () => {
  const whole = summary(new FrameReader(16384).push(wire));

  it("reads the same frames whatever byte boundary the stream is split at", () => {
    expect(whole).toHaveLength(5);
    for (let cut = 0; cut <= wire.length; cut++) {
      const reader = new FrameReader(16384);
      const frames = [...reader.push(wire.subarray(0, cut)), ...reader.push(wire.subarray(cut))];
      expect(summary(frames)).toEqual(whole);
    }
  });

  it("reads frames fed one byte at a time", () => {
    const reader = new FrameReader(16384);
    const frames = [];
    for (const byte of wire) frames.push(...reader.push(Buffer.of(byte)));
    expect(summary(frames)).toEqual(whole);
  });

  it("refuses a frame over the advertised size as soon as its header arrives", () => {
    const reader = new FrameReader(16384);
    expect(() => reader.push(frameHeader(FrameType.DATA, 0, 1, 16385))).toThrow(ConnectionError);
    expect(() => new FrameReader(16384).push(frameHeader(FrameType.DATA, 0, 1, 16385))).toThrow(/16385-byte frame, over the 16384/);
  });
});

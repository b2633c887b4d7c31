// Header blocks both ways: a list split into HEADERS and CONTINUATION frames at the peer's
// frame size comes back whole from HeaderBlockReader; broken and oversized blocks are refused.
import { describe, expect, it } from "vitest";
import { ConnectionError, Flag, FrameReader, FrameType, H2Error, encodeFrame, type Frame } from "./h2-frames.js";
import { HeaderBlockReader, headerBlockFrames } from "./h2-header-block.js";

const list: [string, string][] = [
  [":status", "200"],
  ["content-type", "application/grpc"],
  ["x-long", "v".repeat(300)],
];

function frames(buffers: Buffer[]): Frame[] {
  return new FrameReader(16384).push(Buffer.concat(buffers));
}

describe("headerBlockFrames and HeaderBlockReader", () => {
  it("splits a block at the frame size into HEADERS then CONTINUATIONs, END_HEADERS on the last only", () => {
    const sent = frames(headerBlockFrames(3, list, 64));
    expect(sent.length).toBeGreaterThan(2);
    expect(sent.map((f) => f.type)).toEqual([FrameType.HEADERS, ...sent.slice(1).map(() => FrameType.CONTINUATION)]);
    expect(sent.map((f) => (f.flags & Flag.END_HEADERS) !== 0)).toEqual([...sent.slice(1).map(() => false), true]);
    expect(sent.every((f) => f.streamId === 3 && f.payload.length <= 64)).toBe(true);

    const reader = new HeaderBlockReader(4096, 64 * 1024);
    const [first, ...rest] = sent;
    expect(reader.headers(first!)).toBeUndefined();
    expect(reader.open).toBe(true);
    const done = rest.map((f) => reader.continuation(f));
    expect(done.slice(0, -1).every((b) => b === undefined)).toBe(true);
    expect(done.at(-1)).toEqual({ streamId: 3, endStream: false, list });
    expect(reader.open).toBe(false);
  });

  it("sends a small list in one HEADERS frame and reads END_STREAM from it", () => {
    const [only, ...none] = frames(headerBlockFrames(1, list, 16384));
    expect(none).toEqual([]);
    const reader = new HeaderBlockReader(4096, 64 * 1024);
    expect(reader.headers({ ...only!, flags: only!.flags | Flag.END_STREAM })).toEqual({ streamId: 1, endStream: true, list });
  });

  it("refuses a CONTINUATION for another stream, or with no HEADERS before it", () => {
    const [first, second] = frames(headerBlockFrames(5, list, 64));
    const reader = new HeaderBlockReader(4096, 64 * 1024);
    expect(() => reader.continuation(second!)).toThrow(/CONTINUATION without the HEADERS it continues/);
    reader.headers(first!);
    expect(() => reader.continuation({ ...second!, streamId: 7 })).toThrow(ConnectionError);
  });

  it("cuts off a block that grows past the header list cap plus one frame (ENHANCE_YOUR_CALM)", () => {
    const reader = new HeaderBlockReader(4096, 1024);
    reader.headers(frames([encodeFrame(FrameType.HEADERS, 0, 1, Buffer.alloc(16_000))])[0]!);
    const more = frames([encodeFrame(FrameType.CONTINUATION, 0, 1, Buffer.alloc(2000))])[0]!;
    const err = (() => {
      try {
        reader.continuation(more);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).h2Code).toBe(H2Error.ENHANCE_YOUR_CALM);
  });
});

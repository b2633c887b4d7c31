// H2cSession against a raw peer that writes HTTP/2 frames by hand: responses split into
// one-byte writes, resets and GOAWAY, and a hostile server (endless header blocks, data
// past the window, window overflow, oversized frames) that must end in a clear error with
// the client's buffers bounded.
import { afterEach, describe, expect, it } from "vitest";
import * as net from "node:net";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_MAX_FRAME, Flag, FrameReader, FrameType, H2Error, PREFACE, encodeFrame, frameHeader, type Frame } from "./h2-frames.js";
import { encodeHeaders } from "./hpack-encoder.js";
import { H2cSession } from "./h2c-session.js";
import type { H2cStream } from "./h2c-stream.js";

/** A server side that parses what the client sends and writes whatever the test says. */
class RawPeer {
  readonly frames: Frame[] = [];
  #waiters: (() => void)[] = [];
  constructor(readonly socket: net.Socket) {
    const reader = new FrameReader(1 << 24);
    let preface = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      if (preface.length < PREFACE.length) {
        preface = Buffer.concat([preface, chunk]);
        if (preface.length < PREFACE.length) return;
        chunk = preface.subarray(PREFACE.length);
      }
      this.frames.push(...reader.push(chunk));
      for (const w of this.#waiters.splice(0)) w();
    });
    socket.on("error", () => undefined);
  }
  async waitFor(type: number, streamId?: number): Promise<Frame> {
    for (;;) {
      const f = this.frames.find((x) => x.type === type && (streamId === undefined || x.streamId === streamId));
      if (f) return f;
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }
  send(...frames: Buffer[]): void {
    for (const f of frames) this.socket.write(f);
  }
}

const settings = () => encodeFrame(FrameType.SETTINGS, 0, 0);
const headers = (id: number, list: [string, string][], flags = Flag.END_HEADERS) => encodeFrame(FrameType.HEADERS, flags, id, encodeHeaders(list));
const OK: [string, string][] = [
  [":status", "200"],
  ["content-type", "application/grpc"],
];

let dir: string | undefined;
let server: net.Server | undefined;
const sessions: H2cSession[] = [];
afterEach(async () => {
  for (const s of sessions.splice(0)) s.destroy();
  if (server) await new Promise((r) => server!.close(r));
  server = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A client session and the raw server side of its connection. */
async function pair(windowBytes?: number): Promise<{ session: H2cSession; peer: RawPeer; errors: Error[] }> {
  dir = mkdtempSync(join(tmpdir(), "h2c-raw-"));
  const path = join(dir, "raw.sock");
  const accepted = new Promise<net.Socket>((resolve) => {
    server = net.createServer(resolve);
  });
  server!.listen(path);
  await once(server!, "listening");
  const session = new H2cSession(net.connect(path), { windowBytes });
  sessions.push(session);
  const errors: Error[] = [];
  session.on("error", (e: Error) => errors.push(e));
  return { session, peer: new RawPeer(await accepted), errors };
}

/** Reads a stream to its end; resolves with the bytes or rejects with its error. */
async function drain(stream: H2cStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe("H2cSession against a raw peer", () => {
  it("reads a response written one byte at a time", async () => {
    const { session, peer } = await pair();
    const stream = session.request({ ":path": "/x" });
    stream.end();
    let trailers: unknown;
    stream.once("trailers", (t) => (trailers = t));
    await peer.waitFor(FrameType.HEADERS, 1);
    const wire = Buffer.concat([
      settings(),
      encodeFrame(FrameType.HEADERS, Flag.END_HEADERS | Flag.PADDED, 1, Buffer.concat([Buffer.of(3), encodeHeaders(OK), Buffer.alloc(3)])),
      encodeFrame(FrameType.DATA, 0, 1, Buffer.from("hello ")),
      encodeFrame(FrameType.DATA, Flag.PADDED, 1, Buffer.concat([Buffer.of(2), Buffer.from("world"), Buffer.alloc(2)])),
      encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, 1, encodeHeaders([["grpc-status", "0"]]).subarray(0, 1)),
    ]);
    // The trailers' block is split over HEADERS and CONTINUATION too.
    const block = encodeHeaders([["grpc-status", "0"], ["grpc-message", "fine"]]);
    const tail = Buffer.concat([
      encodeFrame(FrameType.HEADERS, Flag.END_STREAM, 1, block.subarray(0, 5)),
      encodeFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, block.subarray(5)),
    ]);
    const all = Buffer.concat([wire.subarray(0, wire.length - encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, 1, encodeHeaders([["grpc-status", "0"]]).subarray(0, 1)).length), tail]);
    const reading = drain(stream);
    for (const byte of all) {
      peer.socket.write(Buffer.of(byte));
      await new Promise((r) => setImmediate(r));
    }
    expect((await reading).toString()).toBe("hello world");
    expect(trailers).toEqual({ "grpc-status": "0", "grpc-message": "fine" });
  });

  it("fails a stream the server refused as UNAVAILABLE, and one it cancelled as CANCELLED", async () => {
    const { session, peer } = await pair();
    const refused = session.request({ ":path": "/refused" });
    const cancelled = session.request({ ":path": "/cancelled" });
    refused.end();
    cancelled.end();
    await peer.waitFor(FrameType.HEADERS, 3);
    peer.send(settings(), encodeFrame(FrameType.RST_STREAM, 0, 1, u32(H2Error.REFUSED_STREAM)), encodeFrame(FrameType.RST_STREAM, 0, 3, u32(H2Error.CANCEL)));
    await expect(drain(refused)).rejects.toMatchObject({ code: 14, message: expect.stringMatching(/\/refused: the server refused the stream; retry/) });
    await expect(drain(cancelled)).rejects.toMatchObject({ code: 1 });
  });

  it("on GOAWAY, fails the streams the server never took as retryable and finishes the rest", async () => {
    const { session, peer } = await pair();
    const taken = session.request({ ":path": "/taken" });
    const dropped = session.request({ ":path": "/dropped" });
    taken.end();
    dropped.end();
    await peer.waitFor(FrameType.HEADERS, 3);
    const goaway = Buffer.alloc(8);
    goaway.writeUInt32BE(1, 0);
    peer.send(settings(), encodeFrame(FrameType.GOAWAY, 0, 0, goaway));
    await expect(drain(dropped)).rejects.toMatchObject({ code: 14, message: expect.stringMatching(/going away \(GOAWAY NO_ERROR\) before the call started; retry/) });
    expect(session.closed).toBe(true);
    expect(() => session.request({ ":path": "/late" })).toThrow(/closed/);
    peer.send(headers(1, OK), encodeFrame(FrameType.DATA, Flag.END_STREAM, 1, Buffer.from("done")));
    expect((await drain(taken)).toString()).toBe("done");
    await once(session, "close");
  });

  it("ends the connection with a clear error on an endless header block, holding a bounded amount", async () => {
    const { session, peer, errors } = await pair();
    const stream = session.request({ ":path": "/x" });
    stream.end();
    await peer.waitFor(FrameType.HEADERS, 1);
    peer.send(settings(), encodeFrame(FrameType.HEADERS, 0, 1, Buffer.alloc(DEFAULT_MAX_FRAME, 0x82)));
    // 100 × 16 KiB of CONTINUATION: far past the bound, which must trip well before.
    for (let i = 0; i < 100 && !peer.socket.destroyed; i++) peer.send(encodeFrame(FrameType.CONTINUATION, 0, 1, Buffer.alloc(DEFAULT_MAX_FRAME, 0x82)));
    await expect(drain(stream)).rejects.toThrow(/ENHANCE_YOUR_CALM\): a header block over \d+ bytes/);
    expect(errors[0]?.message).toMatch(/header block over/);
    const away = await peer.waitFor(FrameType.GOAWAY);
    expect(away.payload.readUInt32BE(4)).toBe(H2Error.ENHANCE_YOUR_CALM);
  });

  it("refuses a header list over its limit, however well compressed", async () => {
    const { session, peer } = await pair();
    const stream = session.request({ ":path": "/x" });
    stream.end();
    await peer.waitFor(FrameType.HEADERS, 1);
    // Literal with indexing "a: <4000 bytes>" once, then indexed 40 times: 160 KB from a 4 KB block.
    const first = encodeHeaders([["a", "v".repeat(4000)]]);
    first[0] = 0x40;
    peer.send(settings(), encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, 1, Buffer.concat([first, Buffer.alloc(40, 0xbe)])));
    await expect(drain(stream)).rejects.toThrow(/COMPRESSION_ERROR\).*exceed the 65536-byte limit/);
  });

  it("ends the connection when the server sends more DATA than the window allows", async () => {
    const { session, peer } = await pair();
    const stream = session.request({ ":path": "/x" });
    stream.end();
    await peer.waitFor(FrameType.HEADERS, 1);
    peer.send(settings(), headers(1, OK));
    // The client never reads: it credits at most what fits its readable buffer (64 KiB), so
    // 10 × 16 KiB is past the window and that buffer together.
    for (let i = 0; i < 10; i++) peer.send(encodeFrame(FrameType.DATA, 0, 1, Buffer.alloc(DEFAULT_MAX_FRAME)));
    const failed = new Promise<Error>((resolve) => stream.once("close", () => resolve(stream.errored as Error)));
    expect((await failed).message).toMatch(/FLOW_CONTROL_ERROR\): it sent more DATA than the connection's window allowed/);
    expect(stream.readableLength).toBeLessThanOrEqual(2 * 65_535);
  });

  it("ends the connection on a window update past 2^31-1, and on an oversized frame", async () => {
    const a = await pair();
    a.peer.send(settings(), encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, u32(0x7fffffff)));
    await closed(a.session);
    expect(a.errors[0]?.message).toMatch(/FLOW_CONTROL_ERROR\): the connection's send window over 2\^31-1/);
    await new Promise((r) => server!.close(r));
    server = undefined;
    const b = await pair();
    b.peer.send(frameHeader(FrameType.DATA, 0, 1, DEFAULT_MAX_FRAME + 1));
    await closed(b.session);
    expect(b.errors[0]?.message).toMatch(/FRAME_SIZE_ERROR\): a 16385-byte frame/);
  });

  it("waits for the server's window before sending more, then sends the rest", async () => {
    const { session, peer } = await pair();
    const stream = session.request({ ":path": "/upload" });
    const data = Buffer.alloc(100_000, 7);
    let flushed = false;
    stream.write(data, () => (flushed = true));
    stream.end();
    await peer.waitFor(FrameType.DATA, 1);
    const sent = () => peer.frames.filter((f) => f.type === FrameType.DATA && f.streamId === 1).reduce((n, f) => n + f.payload.length, 0);
    // Wait for the first window's worth: exactly 65 535 bytes, and the write not complete.
    while (sent() < 65_535) await new Promise((r) => setImmediate(r));
    expect(sent()).toBe(65_535);
    expect(flushed).toBe(false);
    peer.send(settings(), encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, u32(100_000)), encodeFrame(FrameType.WINDOW_UPDATE, 0, 1, u32(100_000)));
    const end = await peer.waitFor(FrameType.DATA, 1).then(async () => {
      for (;;) {
        const f = peer.frames.find((x) => x.type === FrameType.DATA && x.flags & Flag.END_STREAM);
        if (f) return f;
        await new Promise((r) => setImmediate(r));
      }
    });
    expect(end.streamId).toBe(1);
    expect(sent()).toBe(100_000);
    expect(flushed).toBe(true);
  });
});

/** 'close', whatever came before it (events.once would reject on the 'error' the test expects). */
function closed(session: H2cSession): Promise<void> {
  return new Promise((resolve) => session.once("close", () => resolve()));
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v, 0);
  return b;
}

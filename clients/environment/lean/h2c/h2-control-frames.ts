// Reading and writing HTTP/2's control frames (RFC 9113 §6.3–§6.9) as plain values: each
// reader checks the frame's shape and throws the ConnectionError the RFC names; what the
// values mean for the connection is H2cSession's.
import { ConnectionError, DEFAULT_MAX_FRAME, Flag, FrameType, H2Error, MAX_WINDOW, Setting, encodeFrame, type Frame } from "./h2-frames.js";

export function protocolError(why: string): ConnectionError {
  return new ConnectionError(H2Error.PROTOCOL_ERROR, why);
}

function frameSize(why: string): ConnectionError {
  return new ConnectionError(H2Error.FRAME_SIZE_ERROR, why);
}

export function u32(value: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(value, 0);
  return b;
}

export function settingsFrame(settings: readonly (readonly [id: number, value: number])[]): Buffer {
  const payload = Buffer.alloc(6 * settings.length);
  settings.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, 6 * i);
    payload.writeUInt32BE(value, 6 * i + 2);
  });
  return encodeFrame(FrameType.SETTINGS, 0, 0, payload);
}

export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  return encodeFrame(FrameType.WINDOW_UPDATE, 0, streamId, u32(increment));
}

export function goawayFrame(lastStreamId: number, code: number, debug: string): Buffer {
  const payload = Buffer.alloc(8 + Buffer.byteLength(debug, "latin1"));
  payload.writeUInt32BE(lastStreamId, 0);
  payload.writeUInt32BE(code, 4);
  payload.write(debug, 8, "latin1");
  return encodeFrame(FrameType.GOAWAY, 0, 0, payload);
}

/** A DATA or HEADERS payload without its padding (RFC 9113 §6.1). */
export function unpad(f: Frame): Buffer {
  if (!(f.flags & Flag.PADDED)) return f.payload;
  if (f.payload.length < 1) throw protocolError("a padded frame with no pad length");
  const pad = f.payload[0]!;
  if (pad >= f.payload.length) throw protocolError("padding longer than the frame");
  return f.payload.subarray(1, f.payload.length - pad);
}

/** The settings that bind this client, checked; undefined for an ack. */
export function readSettings(f: Frame): { initialWindow?: number; maxFrame?: number } | undefined {
  if (f.streamId !== 0) throw protocolError("SETTINGS on a stream");
  if (f.flags & Flag.ACK) {
    if (f.payload.length !== 0) throw frameSize("a SETTINGS ack with a payload");
    return undefined;
  }
  if (f.payload.length % 6 !== 0) throw frameSize("SETTINGS not a multiple of 6 bytes");
  const out: { initialWindow?: number; maxFrame?: number } = {};
  for (let at = 0; at < f.payload.length; at += 6) {
    const id = f.payload.readUInt16BE(at);
    const value = f.payload.readUInt32BE(at + 2);
    if (id === Setting.INITIAL_WINDOW_SIZE) {
      if (value > MAX_WINDOW) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, `an initial window of ${value}, over 2^31-1`);
      out.initialWindow = value;
    } else if (id === Setting.MAX_FRAME_SIZE) {
      if (value < DEFAULT_MAX_FRAME || value > 0xffffff) throw protocolError(`a maximum frame size of ${value}`);
      out.maxFrame = value;
    }
    // The rest do not bind this client: it never indexes what it sends, never pushes, and
    // a server over its stream limit refuses streams (REFUSED_STREAM, retried).
  }
  return out;
}

export function readPing(f: Frame): { ack: boolean; payload: Buffer } {
  if (f.streamId !== 0) throw protocolError("PING on a stream");
  if (f.payload.length !== 8) throw frameSize("PING is not 8 bytes");
  return { ack: (f.flags & Flag.ACK) !== 0, payload: f.payload };
}

export function readGoaway(f: Frame): { lastStreamId: number; code: number; debug: string } {
  if (f.streamId !== 0) throw protocolError("GOAWAY on a stream");
  if (f.payload.length < 8) throw frameSize("GOAWAY shorter than 8 bytes");
  // Only the start of the debug data is kept: it goes into an error message.
  return { lastStreamId: f.payload.readUInt32BE(0) & 0x7fffffff, code: f.payload.readUInt32BE(4), debug: f.payload.subarray(8, 8 + 200).toString("latin1") };
}

export function readWindowUpdate(f: Frame): number {
  if (f.payload.length !== 4) throw frameSize("WINDOW_UPDATE is not 4 bytes");
  return f.payload.readUInt32BE(0) & 0x7fffffff;
}

export function readRstStream(f: Frame): number {
  if (f.streamId === 0) throw protocolError("RST_STREAM on stream 0");
  if (f.payload.length !== 4) throw frameSize("RST_STREAM is not 4 bytes");
  return f.payload.readUInt32BE(0);
}

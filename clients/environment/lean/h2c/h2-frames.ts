// HTTP/2 framing (RFC 9113 §4, §6): frame types, flags, error codes and settings this client
// uses, one frame's encoding, and a reader that cuts a byte stream into frames however it
// was split, holding at most one frame of the size this client advertises.
import { ErrorCode, TetherError } from "../../../../services/common/tether-error.js";

export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

export const H2Error = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

export const Setting = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

export const FRAME_HEADER_BYTES = 9;
/** HTTP/2's initial window and smallest maximum frame size (RFC 9113 §6.5.2). */
export const DEFAULT_WINDOW = 65_535;
export const DEFAULT_MAX_FRAME = 16_384;
export const MAX_WINDOW = 2 ** 31 - 1;
export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export function errorName(code: number): string {
  return Object.entries(H2Error).find(([, c]) => c === code)?.[0] ?? `error 0x${code.toString(16)}`;
}

/** A connection error: the server broke the protocol; the connection ends with GOAWAY(code). */
export class ConnectionError extends TetherError {
  constructor(
    readonly h2Code: number,
    why: string,
  ) {
    super(ErrorCode.Unavailable, `the server broke HTTP/2 (${errorName(h2Code)}): ${why}`);
  }
}

/** A frame's 9-byte header alone, for a payload written separately. */
export function frameHeader(type: number, flags: number, streamId: number, length: number): Buffer {
  const head = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  head.writeUIntBE(length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId, 5);
  return head;
}

export function encodeFrame(type: number, flags: number, streamId: number, payload?: Uint8Array): Buffer {
  const length = payload?.byteLength ?? 0;
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + length);
  frame.writeUIntBE(length, 0, 3);
  frame[3] = type;
  frame[4] = flags;
  frame.writeUInt32BE(streamId, 5);
  if (payload) frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

export class FrameReader {
  #chunks: Buffer[] = [];
  #buffered = 0;

  /** @param maxFrameBytes the SETTINGS_MAX_FRAME_SIZE this client advertised */
  constructor(private readonly maxFrameBytes: number) {}

  /** Adds received bytes; returns the frames they complete. Throws ConnectionError on an oversized frame. */
  push(chunk: Buffer): Frame[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const frames: Frame[] = [];
    while (this.#buffered >= FRAME_HEADER_BYTES) {
      const first = this.#chunks[0]!;
      // The header is copied only when it spans chunks (9 bytes); a frame, only the one that spans.
      const head = first.length >= FRAME_HEADER_BYTES ? first : this.#copy(FRAME_HEADER_BYTES, false);
      const length = head.readUIntBE(0, 3);
      if (length > this.maxFrameBytes) {
        throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, `a ${length}-byte frame, over the ${this.maxFrameBytes} bytes this client accepts`);
      }
      if (this.#buffered < FRAME_HEADER_BYTES + length) break;
      const frame = this.#take(FRAME_HEADER_BYTES + length);
      frames.push({ type: frame[3]!, flags: frame[4]!, streamId: frame.readUInt32BE(5) & 0x7fffffff, payload: frame.subarray(FRAME_HEADER_BYTES) });
    }
    return frames;
  }

  /** The next `n` buffered bytes: a view when one chunk holds them, else a copy of exactly `n`. */
  #take(n: number): Buffer {
    const first = this.#chunks[0]!;
    if (first.length < n) return this.#copy(n, true);
    if (first.length === n) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(n);
    this.#buffered -= n;
    return first.subarray(0, n);
  }

  /** Copies the next `n` bytes out of the chunks, consuming them when `consume`. */
  #copy(n: number, consume: boolean): Buffer {
    const out = Buffer.allocUnsafe(n);
    let offset = 0;
    let i = 0;
    while (offset < n) {
      const chunk = this.#chunks[i]!;
      const count = Math.min(chunk.length, n - offset);
      chunk.copy(out, offset, 0, count);
      offset += count;
      if (!consume) i++;
      else if (count === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(count);
    }
    if (consume) this.#buffered -= n;
    return out;
  }
}

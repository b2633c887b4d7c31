// gRPC's length-prefixed message framing (1 flag byte, 4-byte big-endian length), both ways.
// The decoder copies a message only when it spans HTTP/2 DATA frames, and never holds more
// than one message plus one chunk.
import { type Readable, finished } from "node:stream";
import { ErrorCode, TetherError } from "../../../services/common/tether-error.js";

const FRAME_HEADER_BYTES = 5;

/** One message as it goes on the wire, uncompressed. */
export function encodeFrame(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + message.byteLength);
  frame[0] = 0;
  frame.writeUInt32BE(message.byteLength, 1);
  frame.set(message, FRAME_HEADER_BYTES);
  return frame;
}

export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Length of the message whose header was read, until its bytes are all here. */
  private expected: number | undefined;

  constructor(private readonly maxMessageBytes: number) {}

  /** Adds received bytes; returns every message they complete, in order. */
  push(chunk: Buffer): Buffer[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const messages: Buffer[] = [];
    for (;;) {
      if (this.expected === undefined) {
        if (this.buffered < FRAME_HEADER_BYTES) break;
        const header = this.take(FRAME_HEADER_BYTES);
        if (header[0] !== 0) {
          // We never send grpc-accept-encoding other than identity, so a compressed
          // message means a server that ignores it.
          throw new TetherError(
            ErrorCode.Internal,
            `the server sent a ${header[0] === 1 ? "compressed" : `flag ${header[0]}`} message; this client accepts identity encoding only`,
          );
        }
        const length = header.readUInt32BE(1);
        if (length > this.maxMessageBytes) {
          throw new TetherError(
            ErrorCode.ResourceExhausted,
            `the server sent a ${length}-byte message, over the ${this.maxMessageBytes}-byte limit (raise maxMessageBytes)`,
          );
        }
        this.expected = length;
      }
      if (this.buffered < this.expected) break;
      messages.push(this.take(this.expected));
      this.expected = undefined;
    }
    return messages;
  }

  /** Call at end of stream: a half-received message is data loss. */
  finish(): void {
    if (this.expected !== undefined || this.buffered > 0) {
      throw new TetherError(ErrorCode.Internal, `the stream ended inside a message (${this.buffered} bytes left over)`);
    }
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let offset = 0;
    while (offset < n) {
      const chunk = this.chunks[0]!;
      const count = Math.min(chunk.length, n - offset);
      chunk.copy(out, offset, 0, count);
      offset += count;
      if (count === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(count);
    }
    this.buffered -= n;
    return out;
  }
}

/**
 * The messages a response stream carries, decoded as its chunks arrive. Chunks come from
 * 'data' events: a stream's async iterator costs several times more per chunk (HTTP/2 hands
 * over 16 KiB DATA frames) than decoding them. The stream is paused while decoded messages
 * wait for the consumer, so HTTP/2 flow control still holds the server back. Ends, fails
 * and, when the consumer leaves early, destroys the stream as its async iterator would.
 * `onFirstChunk` runs before the first chunk is decoded (to check response headers).
 */
export async function* readMessages(stream: Readable, decoder: FrameDecoder, onFirstChunk?: () => void): AsyncGenerator<Buffer, void, undefined> {
  const ready: Buffer[] = [];
  let failure: Error | undefined;
  let ended = false;
  let wake: (() => void) | undefined;
  let first = true;
  const onData = (chunk: Buffer) => {
    try {
      if (first) {
        first = false;
        onFirstChunk?.();
      }
      for (const message of decoder.push(chunk)) ready.push(message);
    } catch (err) {
      failure ??= err instanceof Error ? err : new Error(String(err));
    }
    if (ready.length > 0 || failure !== undefined) stream.pause();
    wake?.();
  };
  stream.on("data", onData);
  const stopWatching = finished(stream, { writable: false }, (err) => {
    if (err) failure ??= err;
    ended = true;
    wake?.();
  });
  try {
    for (;;) {
      while (ready.length > 0) yield ready.shift()!;
      if (failure !== undefined) throw failure;
      if (ended) return;
      const changed = new Promise<void>((resolve) => (wake = resolve));
      stream.resume();
      await changed;
      wake = undefined;
    }
  } finally {
    stream.off("data", onData);
    stopWatching();
    if (!ended) stream.destroy();
  }
}

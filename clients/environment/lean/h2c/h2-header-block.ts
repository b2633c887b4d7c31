// Header blocks both ways: a request's header list as one HEADERS frame and as many
// CONTINUATION frames as the peer's frame size needs; and the server's HEADERS and
// CONTINUATION frames gathered into one block, bounded, then HPACK-decoded.
import { ConnectionError, DEFAULT_MAX_FRAME, Flag, FrameType, H2Error, type Frame, encodeFrame } from "./h2-frames.js";
import { protocolError, unpad } from "./h2-control-frames.js";
import { HpackDecoder, type HeaderList } from "./hpack-decoder.js";
import { encodeHeaders } from "./hpack-encoder.js";

/** `list` as the frames that open stream `streamId` (no END_STREAM: the body follows). */
export function headerBlockFrames(streamId: number, list: readonly (readonly [string, string])[], maxFrame: number): Buffer[] {
  const block = encodeHeaders(list);
  const frames: Buffer[] = [];
  for (let at = 0, first = true; first || at < block.length; first = false) {
    const part = block.subarray(at, at + maxFrame);
    at += part.length;
    const last = at >= block.length;
    frames.push(encodeFrame(first ? FrameType.HEADERS : FrameType.CONTINUATION, last ? Flag.END_HEADERS : 0, streamId, part));
  }
  return frames;
}

/** One complete header block the server sent. */
export interface ReceivedHeaderBlock {
  streamId: number;
  endStream: boolean;
  list: HeaderList;
}

/** Gathers the server's header blocks; throws ConnectionError (or HpackError) on a broken one. */
export class HeaderBlockReader {
  readonly #decoder: HpackDecoder;
  readonly #maxHeaderList: number;
  #block: { streamId: number; endStream: boolean; chunks: Buffer[]; size: number } | undefined;

  constructor(tableBytes: number, maxHeaderListBytes: number) {
    this.#decoder = new HpackDecoder(tableBytes, maxHeaderListBytes);
    this.#maxHeaderList = maxHeaderListBytes;
  }

  /** A block is open: the next frame must be its CONTINUATION. */
  get open(): boolean {
    return this.#block !== undefined;
  }

  /** A HEADERS frame (its stream already checked); the decoded block when it ends it. */
  headers(f: Frame): ReceivedHeaderBlock | undefined {
    let fragment = unpad(f);
    if (f.flags & Flag.PRIORITY) {
      if (fragment.length < 5) throw protocolError("HEADERS too short for its priority fields");
      fragment = fragment.subarray(5);
    }
    this.#block = { streamId: f.streamId, endStream: (f.flags & Flag.END_STREAM) !== 0, chunks: [], size: 0 };
    return this.#add(fragment, (f.flags & Flag.END_HEADERS) !== 0);
  }

  continuation(f: Frame): ReceivedHeaderBlock | undefined {
    if (!this.#block || f.streamId !== this.#block.streamId) throw protocolError("CONTINUATION without the HEADERS it continues");
    return this.#add(f.payload, (f.flags & Flag.END_HEADERS) !== 0);
  }

  /** Drops a block half received (the connection is gone). */
  clear(): void {
    this.#block = undefined;
  }

  #add(fragment: Buffer, last: boolean): ReceivedHeaderBlock | undefined {
    const block = this.#block!;
    block.size += fragment.length;
    // A compressed block is at most as large as the list it decodes to, give or take.
    if (block.size > this.#maxHeaderList + DEFAULT_MAX_FRAME) {
      throw new ConnectionError(H2Error.ENHANCE_YOUR_CALM, `a header block over ${this.#maxHeaderList + DEFAULT_MAX_FRAME} bytes`);
    }
    block.chunks.push(fragment);
    if (!last) return undefined;
    this.#block = undefined;
    // Decoded even for a stream already gone (the caller's concern): the HPACK table must stay in step.
    const list = this.#decoder.decode(block.chunks.length === 1 ? block.chunks[0]! : Buffer.concat(block.chunks));
    return { streamId: block.streamId, endStream: block.endStream, list };
  }
}

// Per-process bookkeeping of WriteStream byte sequences: how many bytes of each stream id
// were accepted for stdin, so a stream reopened after a cut skips what already went in and
// a gap (bytes the server never saw) is refused instead of silently closed over.
import { ErrorCode, TetherError } from "../../common/tether-error.js";

export interface StreamWriteResult {
  /** Bytes of the stream applied to stdin, this request's included. */
  appliedOffset: number;
  /** Stdin was closed by this stream. */
  eof: boolean;
}

export interface StdinStream {
  readonly id: string;
  /** Bytes accepted so far: once accepted they are written unless stdin breaks. */
  accepted: number;
  eof: boolean;
  /** Settles when the last accepted piece reached the pipe (a duplicate answers with it). */
  last: Promise<StreamWriteResult>;
}

/** What to do with one request: the bytes not seen before, and whether it closes stdin. */
export interface StreamPiece {
  stream: StdinStream;
  fresh: Uint8Array;
  closes: boolean;
}

/** Streams a process remembers; the least recently used is forgotten first. */
const REMEMBERED_STREAMS = 64;

export class StdinStreams {
  readonly #streams = new Map<string, StdinStream>();

  /** Splits a request into what is new; OUT_OF_RANGE when it starts past what was received. */
  piece(streamId: string, offset: number, data: Uint8Array, eof: boolean): StreamPiece {
    const stream = this.#touch(streamId);
    if (offset > stream.accepted) {
      throw new TetherError(
        ErrorCode.OutOfRange,
        `offset ${offset} of stream ${streamId} is past the ${stream.accepted} bytes received: resend from offset ${stream.accepted}`,
        { details: { applied_offset: String(stream.accepted) } },
      );
    }
    const fresh = data.subarray(Math.min(stream.accepted - offset, data.byteLength));
    return { stream, fresh, closes: eof && !stream.eof };
  }

  #touch(streamId: string): StdinStream {
    let stream = this.#streams.get(streamId);
    if (stream) this.#streams.delete(streamId);
    else stream = { id: streamId, accepted: 0, eof: false, last: Promise.resolve({ appliedOffset: 0, eof: false }) };
    this.#streams.set(streamId, stream);
    if (this.#streams.size > REMEMBERED_STREAMS) this.#streams.delete(this.#streams.keys().next().value!);
    return stream;
  }
}

// One HTTP/2 stream of H2cSession as a Duplex, shaped like node:http2's client stream where
// LeanChannel uses it ('response', 'trailers', close(code), rstCode): writes leave as DATA
// frames as the peer's windows allow (a write completes only once framed, so backpressure
// reaches the caller), and read bytes are credited back to the server only as they are consumed.
import { Duplex } from "node:stream";
import { ErrorCode, TetherError } from "../../../../services/common/tether-error.js";
import { H2Error, errorName } from "./h2-frames.js";

export type ResponseHeaders = Record<string, string | string[]>;

/** What a stream needs from its session. */
export interface StreamOwner {
  /** Frames what `stream` has queued as far as the windows allow. */
  pump(stream: H2cStream): void;
  /** Returns consumed bytes to the server's windows (WINDOW_UPDATE) when enough have piled up. */
  credit(stream: H2cStream): void;
  /** Sends RST_STREAM and forgets the stream. */
  reset(stream: H2cStream, code: number): void;
  /** Forgets a stream that is closed both ways. */
  forget(stream: H2cStream): void;
}

/** The error a caller sees for a stream the server reset. */
export function resetError(code: number, path: string): TetherError {
  if (code === H2Error.REFUSED_STREAM) return new TetherError(ErrorCode.Unavailable, `${path}: the server refused the stream; retry`);
  if (code === H2Error.CANCEL) return new TetherError(ErrorCode.Cancelled, `${path}: the server cancelled the call`);
  if (code === H2Error.ENHANCE_YOUR_CALM) return new TetherError(ErrorCode.ResourceExhausted, `${path}: the server asked to slow down (ENHANCE_YOUR_CALM)`);
  return new TetherError(ErrorCode.Internal, `${path}: the server reset the stream (${errorName(code)})`);
}

export function headerRecord(list: readonly [string, string][]): ResponseHeaders {
  const record: ResponseHeaders = {};
  for (const [name, value] of list) {
    const had = record[name];
    if (had === undefined) record[name] = value;
    else if (Array.isArray(had)) had.push(value);
    else record[name] = [had, value];
  }
  return record;
}

export class H2cStream extends Duplex {
  rstCode: number | undefined;
  /** Bytes the server still lets this stream send. */
  sendWindow: number;
  /** Bytes the server may still send on this stream before a WINDOW_UPDATE. */
  recvWindow: number;
  /** Received and not yet credited back (in the readable buffer or consumed since). */
  uncredited = 0;
  /** The chunk being framed, and how much of it is out. */
  out: { data: Buffer; sent: number; done: (err?: Error | null) => void } | undefined;
  /** Set once END_STREAM was asked for, until it is sent. */
  endPending: (() => void) | undefined;
  localEnded = false;
  remoteEnded = false;
  headersSeen = false;
  /** Closed at the HTTP/2 level: reset either way, or ended both ways. */
  done = false;

  constructor(
    readonly id: number,
    readonly path: string,
    private readonly owner: StreamOwner,
    sendWindow: number,
    recvWindow: number,
  ) {
    super({ allowHalfOpen: true });
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
    // Errors reach the call through finished()/readMessages; one that comes after the call
    // stopped listening must not crash the process.
    this.on("error", () => undefined);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    // The server is done with this stream: what is left to send is of no use to anyone.
    if (this.done || this.localEnded) return callback();
    this.out = { data: chunk, sent: 0, done: callback };
    this.owner.pump(this);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.done || this.localEnded) return callback();
    this.endPending = () => callback();
    this.owner.pump(this);
  }

  override _read(): void {
    this.owner.credit(this);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.done) this.owner.reset(this, H2Error.CANCEL);
    this.#release();
    callback(err);
  }

  /** Like node's Http2Stream.close: RST_STREAM with `code`, then destroy. */
  close(code: number = H2Error.NO_ERROR): void {
    if (!this.done) {
      this.rstCode = code;
      this.owner.reset(this, code);
    }
    this.destroy();
  }

  /** Called by the session when the server reset this stream. */
  resetByPeer(code: number): void {
    this.rstCode = code;
    this.done = true;
    this.#release();
    if (code === H2Error.NO_ERROR && this.remoteEnded) {
      // The server finished and does not want the rest of the request: nothing is lost.
      this.localEnded = true;
      if (this.readableEnded) this.destroy();
      else this.once("end", () => this.destroy());
      return;
    }
    this.destroy(resetError(code, this.path));
  }

  /** Pending writes fail quietly: the stream is over, and the caller learns why from the read side. */
  #release(): void {
    const out = this.out;
    this.out = undefined;
    out?.done();
    const end = this.endPending;
    this.endPending = undefined;
    end?.();
  }
}

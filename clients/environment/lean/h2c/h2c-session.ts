// A minimal HTTP/2 client connection in cleartext (h2c, prior knowledge) over a node:net
// socket: what gRPC needs and no more. node:http2 loads tls, crypto and http, ≈ 30 ms of CPU
// that a `tether run` on a Unix socket never uses (issue 18). Shaped like node's client
// session where LeanChannel uses it. Every buffer is bounded: frames by the size advertised,
// header blocks and lists by a cap, received data by the windows, queued control answers.
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import {
  ConnectionError,
  frameHeader,
  DEFAULT_MAX_FRAME,
  DEFAULT_WINDOW,
  Flag,
  FrameReader,
  FrameType,
  H2Error,
  MAX_WINDOW,
  PREFACE,
  Setting,
  encodeFrame,
  errorName,
  type Frame,
} from "./h2-frames.js";
import {
  goawayFrame,
  protocolError,
  readGoaway,
  readPing,
  readRstStream,
  readSettings,
  readWindowUpdate,
  settingsFrame,
  u32,
  unpad,
  windowUpdateFrame,
} from "./h2-control-frames.js";
import { FrameWriter } from "./h2-frame-writer.js";
import { HeaderBlockReader, type ReceivedHeaderBlock, headerBlockFrames } from "./h2-header-block.js";
import { PingsInFlight } from "./h2-pings.js";
import { HpackError } from "./hpack-decoder.js";
import { H2cStream, type StreamOwner, headerRecord } from "./h2c-stream.js";
import { ErrorCode, TetherError } from "../../../../services/common/tether-error.js";

export interface H2cSessionOptions {
  /** Per-stream and connection receive window; at least HTTP/2's 65 535. */
  windowBytes?: number;
  /** Largest header list accepted (advertised as SETTINGS_MAX_HEADER_LIST_SIZE); default 64 KiB. */
  maxHeaderListBytes?: number;
}

const HEADER_TABLE_BYTES = 4096;
const DEFAULT_MAX_HEADER_LIST = 64 * 1024;
const GOAWAY_LINGER_MS = 1000;

export class H2cSession extends EventEmitter implements StreamOwner {
  readonly #socket: Socket;
  readonly #reader = new FrameReader(DEFAULT_MAX_FRAME);
  readonly #writer: FrameWriter;
  readonly #blocks: HeaderBlockReader;
  readonly #streams = new Map<number, H2cStream>();
  readonly #window: number;
  readonly #maxHeaderList: number;
  #nextId = 1;
  #closing = false;
  #destroyed = false;
  #connSend = DEFAULT_WINDOW;
  #connRecv = DEFAULT_WINDOW;
  #connUncredited = 0;
  #peerInitialWindow = DEFAULT_WINDOW;
  #peerMaxFrame = DEFAULT_MAX_FRAME;
  #lastPeerStream = MAX_WINDOW;
  readonly #pings = new PingsInFlight();
  /** How long a closing socket may take to flush a last GOAWAY; 0 destroys it at once. */
  #lingerMs = 0;

  constructor(socket: Socket, opts: H2cSessionOptions = {}) {
    super();
    this.#socket = socket;
    this.#window = Math.min(MAX_WINDOW, Math.max(DEFAULT_WINDOW, opts.windowBytes ?? DEFAULT_WINDOW));
    this.#maxHeaderList = opts.maxHeaderListBytes ?? DEFAULT_MAX_HEADER_LIST;
    this.#writer = new FrameWriter(socket);
    this.#blocks = new HeaderBlockReader(HEADER_TABLE_BYTES, this.#maxHeaderList);
    socket.once("connect", () => this.emit("connect"));
    socket.on("data", (chunk: Buffer) => this.#receive(chunk));
    socket.on("error", (err: Error) => this.destroy(err));
    // The session's 'close' follows the socket's, so whoever waits for it finds the connection gone.
    socket.once("close", () => {
      this.destroy();
      this.emit("close");
    });
    this.#write(PREFACE);
    this.#write(
      settingsFrame([
        [Setting.ENABLE_PUSH, 0],
        [Setting.INITIAL_WINDOW_SIZE, this.#window],
        [Setting.MAX_HEADER_LIST_SIZE, this.#maxHeaderList],
      ]),
    );
    this.setLocalWindowSize(this.#window);
  }

  get closed(): boolean {
    return this.#closing || this.#destroyed;
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  ref(): void {
    this.#socket.ref();
  }

  unref(): void {
    this.#socket.unref();
  }

  /** Raises the connection's receive window to `size` (it is never lowered). */
  setLocalWindowSize(size: number): void {
    const increment = Math.min(MAX_WINDOW, size) - this.#connRecv;
    if (increment <= 0 || this.#destroyed) return;
    this.#connRecv += increment;
    this.#write(windowUpdateFrame(0, increment));
  }

  /** Opens a stream with `headers` (`:path` and `:authority` given, names lower-case). */
  request(headers: Record<string, string>): H2cStream {
    if (this.closed) throw new TetherError(ErrorCode.Unavailable, "the HTTP/2 connection is closed; connect again");
    const id = this.#nextId;
    if (id > MAX_WINDOW) throw new TetherError(ErrorCode.Unavailable, "the HTTP/2 connection ran out of stream ids; connect again");
    this.#nextId += 2;
    const path = headers[":path"] ?? "/";
    const list: [string, string][] = [
      [":method", headers[":method"] ?? "POST"],
      [":scheme", "http"],
      [":path", path],
      [":authority", headers[":authority"] ?? "localhost"],
    ];
    for (const [name, value] of Object.entries(headers)) if (!name.startsWith(":")) list.push([name, value]);
    const stream = new H2cStream(id, path, this, this.#peerInitialWindow, this.#window);
    this.#streams.set(id, stream);
    for (const frame of headerBlockFrames(id, list, this.#peerMaxFrame)) this.#write(frame);
    return stream;
  }

  /** Sends a PING; `cb` runs when the server acknowledges it. False when too many are out already. */
  ping(cb: (err: Error | null) => void = () => undefined): boolean {
    const payload = this.closed ? undefined : this.#pings.start(cb);
    if (payload === undefined) return false;
    this.#write(encodeFrame(FrameType.PING, 0, 0, payload));
    return true;
  }

  /** Graceful close: no new streams; the connection ends once the open ones have. */
  close(): void {
    if (this.closed) return;
    this.#closing = true;
    this.#write(goawayFrame(0, H2Error.NO_ERROR, ""));
    this.#endIfIdle();
  }

  /** Ends the connection now; open streams fail with `err` (or as cut off). */
  destroy(err?: Error): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#blocks.clear();
    if (err && this.listenerCount("error") > 0) this.emit("error", err);
    const cut = err ?? new Error("the connection to the server closed");
    for (const stream of this.#streams.values()) {
      stream.done = true;
      stream.destroy(cut);
    }
    this.#streams.clear();
    this.#pings.failAll(cut);
    this.#writer.stop();
    if (this.#lingerMs === 0) this.#socket.destroy();
    else {
      this.#socket.end();
      setTimeout(() => this.#socket.destroy(), this.#lingerMs).unref();
    }
  }

  // StreamOwner ---------------------------------------------------------------------------

  pump(stream: H2cStream): void {
    if (stream.done || this.#destroyed) return;
    const out = stream.out;
    if (out) {
      while (out.sent < out.data.length) {
        const n = Math.min(out.data.length - out.sent, stream.sendWindow, this.#connSend, this.#peerMaxFrame);
        if (n <= 0) return; // Blocked: a WINDOW_UPDATE or SETTINGS frame pumps again.
        // Header and payload go as two writes (gathered by the cork): the payload is not copied.
        this.#write(frameHeader(FrameType.DATA, 0, stream.id, n));
        this.#write(out.data.subarray(out.sent, out.sent + n));
        out.sent += n;
        stream.sendWindow -= n;
        this.#connSend -= n;
      }
      stream.out = undefined;
      this.#writer.afterDrain(() => out.done());
    }
    const end = stream.endPending;
    if (end && !stream.out) {
      stream.endPending = undefined;
      stream.localEnded = true;
      this.#write(encodeFrame(FrameType.DATA, Flag.END_STREAM, stream.id));
      if (stream.remoteEnded) this.forget(stream);
      end();
    }
  }

  credit(stream: H2cStream): void {
    // Credited once a quarter of the window is consumed: fewer frames, and never a stall.
    if (stream.uncredited === 0 || stream.uncredited < this.#window / 4 || this.#destroyed) return;
    const n = stream.uncredited;
    stream.uncredited = 0;
    if (!stream.done && !stream.remoteEnded) {
      stream.recvWindow += n;
      this.#write(windowUpdateFrame(stream.id, n));
    }
    this.#creditConnection(n);
  }

  reset(stream: H2cStream, code: number): void {
    if (stream.done) return;
    stream.done = true;
    if (!this.#destroyed) this.#write(encodeFrame(FrameType.RST_STREAM, 0, stream.id, u32(code)));
    this.forget(stream);
  }

  forget(stream: H2cStream): void {
    stream.done = true;
    if (this.#streams.get(stream.id) !== stream) return;
    this.#streams.delete(stream.id);
    // What the stream received and nobody will read goes back to the connection's window.
    const left = stream.uncredited;
    stream.uncredited = 0;
    if (left > 0) this.#creditConnection(left);
    this.#endIfIdle();
  }

  // Receiving -----------------------------------------------------------------------------

  #receive(chunk: Buffer): void {
    if (this.#destroyed) return;
    try {
      for (const frame of this.#reader.push(chunk)) {
        this.#frame(frame);
        if (this.#destroyed) return;
      }
    } catch (err) {
      const failure = err instanceof HpackError ? new ConnectionError(H2Error.COMPRESSION_ERROR, err.message) : err;
      if (failure instanceof ConnectionError) {
        this.#goawayThenDestroy(failure);
      } else this.destroy(failure instanceof Error ? failure : new Error(String(failure)));
    }
  }

  #frame(f: Frame): void {
    if (this.#blocks.open && f.type !== FrameType.CONTINUATION) throw protocolError(`a ${f.type} frame inside a header block`);
    switch (f.type) {
      case FrameType.DATA:
        return this.#data(f);
      case FrameType.HEADERS:
        if (f.streamId === 0 || f.streamId % 2 === 0 || f.streamId >= this.#nextId) throw protocolError(`HEADERS on stream ${f.streamId}, which this client never opened`);
        return this.#headerBlock(this.#blocks.headers(f));
      case FrameType.CONTINUATION:
        return this.#headerBlock(this.#blocks.continuation(f));
      case FrameType.RST_STREAM:
        return void this.#streams.get(f.streamId)?.resetByPeer(readRstStream(f));
      case FrameType.SETTINGS:
        return this.#settings(f);
      case FrameType.PING:
        return this.#ping(f);
      case FrameType.GOAWAY:
        return this.#goaway(f);
      case FrameType.WINDOW_UPDATE:
        return this.#windowUpdate(f);
      case FrameType.PUSH_PROMISE:
        throw protocolError("PUSH_PROMISE, though this client disabled push");
      default:
        // PRIORITY and unknown types are ignored (RFC 9113 §4.1, §5.5).
        return;
    }
  }

  #data(f: Frame): void {
    if (f.streamId === 0) throw protocolError("DATA on stream 0");
    if (f.streamId >= this.#nextId || f.streamId % 2 === 0) throw protocolError(`DATA on stream ${f.streamId}, which this client never opened`);
    const size = f.payload.length;
    this.#connRecv -= size;
    if (this.#connRecv < 0) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, "it sent more DATA than the connection's window allowed");
    const stream = this.#streams.get(f.streamId);
    if (!stream || stream.remoteEnded) {
      // A stream this client already reset: the bytes still count against the connection.
      this.#creditConnection(size);
      return;
    }
    stream.recvWindow -= size;
    if (stream.recvWindow < 0) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, `it sent more DATA than stream ${f.streamId}'s window allowed`);
    if (!stream.headersSeen) {
      this.#creditConnection(size);
      this.reset(stream, H2Error.PROTOCOL_ERROR);
      stream.destroy(new TetherError(ErrorCode.Internal, `${stream.path}: the server sent DATA before its response headers`));
      return;
    }
    const data = unpad(f);
    stream.uncredited += size;
    const more = data.length === 0 || stream.push(data);
    if (f.flags & Flag.END_STREAM) this.#remoteEnd(stream);
    else if (more) this.credit(stream);
  }

  /** A complete header block (undefined: more CONTINUATION frames to come): the response headers or trailers. */
  #headerBlock(block: ReceivedHeaderBlock | undefined): void {
    if (!block) return;
    const stream = this.#streams.get(block.streamId);
    if (!stream || stream.remoteEnded) return;
    const headers = headerRecord(block.list);
    if (!stream.headersSeen) {
      stream.headersSeen = true;
      stream.emit("response", headers);
    } else if (block.endStream) stream.emit("trailers", headers);
    else {
      this.reset(stream, H2Error.PROTOCOL_ERROR);
      stream.destroy(new TetherError(ErrorCode.Internal, `${stream.path}: the server sent a second header block without ending the stream`));
      return;
    }
    if (block.endStream) this.#remoteEnd(stream);
  }

  #remoteEnd(stream: H2cStream): void {
    stream.remoteEnded = true;
    stream.push(null);
    if (stream.localEnded) this.forget(stream);
  }

  #settings(f: Frame): void {
    const settings = readSettings(f);
    if (!settings) return;
    if (settings.initialWindow !== undefined) {
      const delta = settings.initialWindow - this.#peerInitialWindow;
      this.#peerInitialWindow = settings.initialWindow;
      for (const stream of this.#streams.values()) {
        stream.sendWindow += delta;
        if (stream.sendWindow > MAX_WINDOW) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, "a window over 2^31-1");
      }
    }
    if (settings.maxFrame !== undefined) this.#peerMaxFrame = settings.maxFrame;
    this.#control(encodeFrame(FrameType.SETTINGS, Flag.ACK, 0));
    this.#pumpAll();
  }

  #ping(f: Frame): void {
    const { ack, payload } = readPing(f);
    if (!ack) return this.#control(encodeFrame(FrameType.PING, Flag.ACK, 0, payload));
    this.#pings.acked(payload);
  }

  #goaway(f: Frame): void {
    const { lastStreamId, code, debug } = readGoaway(f);
    this.#lastPeerStream = Math.min(this.#lastPeerStream, lastStreamId);
    this.#closing = true;
    const why = `the server is going away (GOAWAY ${errorName(code)}${debug ? `: ${debug}` : ""})`;
    // Streams it never processed are safe to retry elsewhere.
    for (const stream of [...this.#streams.values()]) {
      if (stream.id > this.#lastPeerStream) {
        stream.done = true;
        this.forget(stream);
        stream.destroy(new TetherError(ErrorCode.Unavailable, `${stream.path}: ${why} before the call started; retry`));
      }
    }
    if (code !== H2Error.NO_ERROR) this.destroy(new Error(why));
    else this.#endIfIdle();
  }

  #windowUpdate(f: Frame): void {
    const increment = readWindowUpdate(f);
    if (f.streamId === 0) {
      if (increment === 0) throw protocolError("a WINDOW_UPDATE of 0 for the connection");
      this.#connSend += increment;
      if (this.#connSend > MAX_WINDOW) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, "the connection's send window over 2^31-1");
      return this.#pumpAll();
    }
    const stream = this.#streams.get(f.streamId);
    if (!stream) return;
    if (increment === 0 || stream.sendWindow + increment > MAX_WINDOW) {
      const why = increment === 0 ? "a WINDOW_UPDATE of 0" : "a send window over 2^31-1";
      this.reset(stream, increment === 0 ? H2Error.PROTOCOL_ERROR : H2Error.FLOW_CONTROL_ERROR);
      stream.destroy(new TetherError(ErrorCode.Internal, `${stream.path}: the server sent ${why}`));
      return;
    }
    stream.sendWindow += increment;
    this.pump(stream);
  }

  // Sending -------------------------------------------------------------------------------

  #pumpAll(): void {
    for (const stream of [...this.#streams.values()]) if (stream.out || stream.endPending) this.pump(stream);
  }

  #creditConnection(n: number): void {
    this.#connUncredited += n;
    if (this.#connUncredited < this.#window / 4 || this.#destroyed) return;
    this.#connRecv += this.#connUncredited;
    this.#write(windowUpdateFrame(0, this.#connUncredited));
    this.#connUncredited = 0;
  }

  /** An answer the server asked for: a server that never reads them is cut off, not buffered for. */
  #control(frame: Buffer): void {
    if (!this.#destroyed) this.#writer.control(frame);
  }

  #write(frame: Buffer): void {
    // Frames written in one tick leave in one write (HEADERS and DATA of a call, several calls).
    if (!this.#destroyed) this.#writer.write(frame);
  }

  /**
   * Tells the server why (GOAWAY) before the connection ends: the frame is flushed first, and
   * a server that does not read gets a second, then is cut off.
   */
  #goawayThenDestroy(failure: ConnectionError): void {
    this.#write(goawayFrame(0, failure.h2Code, failure.message.slice(0, 200)));
    this.#lingerMs = GOAWAY_LINGER_MS;
    this.destroy(failure);
  }

  #endIfIdle(): void {
    if (!this.#closing || this.#streams.size > 0 || this.#destroyed) return;
    this.#socket.end(() => this.destroy());
  }
}

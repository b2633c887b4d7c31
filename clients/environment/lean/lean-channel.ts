// A minimal gRPC client for the CLI's start-up path, where loading grpc-js costs more than
// the whole call: all four call shapes (a Transport, services/common/transport.ts); h2c over
// a Unix socket or TCP on the small HTTP/2 client in h2c/ (node:http2 alone costs a run
// ≈ 30 ms of CPU), or TLS with a bearer token on node:http2, loaded only then. One
// connection, never reconnected here (LeanTransport replaces a dead one). Never imports @grpc/grpc-js.
import type * as Http2 from "node:http2";
import * as net from "node:net";
import type { DescMessage, DescMethod, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { ErrorCode, TetherError, cancelled } from "../../../services/common/tether-error.js";
import { FrameDecoder, encodeFrame, readMessages } from "./grpc-frame.js";
import { checkResponseHeaders, encodeTimeout, statusFromHeaders } from "./grpc-call-status.js";
import type { MethodKind, Transport, TransportCallOptions, WireMethod } from "../../../services/common/transport.js";
import { H2Error } from "./h2c/h2-frames.js";
import { H2cSession } from "./h2c/h2c-session.js";
import { type H2cStream, resetError } from "./h2c/h2c-stream.js";

export type { WireMethod } from "../../../services/common/transport.js";

export interface LeanChannelOptions {
  /** unix:///path/to.sock | grpc://host:port (h2c) | grpcs://host:port (TLS). */
  target: string;
  /** Sent as `authorization: Bearer <token>`; refused in clear text to a non-loopback host. */
  token?: string;
  /** CA certificate(s) for grpcs://; the system's CAs when absent. */
  caPem?: Buffer;
  /** Client certificate and key for mTLS (grpcs://). */
  clientCertPem?: Buffer;
  clientKeyPem?: Buffer;
  /** TLS server name to verify (and send as SNI), when it differs from the target's host. */
  serverName?: string;
  /** Largest response message accepted; default 16 MiB. */
  maxMessageBytes?: number;
  /**
   * HTTP/2 receive window, per stream and for the connection; default HTTP/2's 64 KiB. A
   * stream moves at most one window per round trip: far servers need more.
   */
  windowBytes?: number;
  /**
   * While calls run, ping the server this often and drop the connection when a ping is not
   * answered within half the interval (at least 1 s): a link that dies without a reset
   * (a sleeping laptop, a dropped route) otherwise hangs a stream for ever. Off by default.
   */
  keepaliveMs?: number;
}

/** timeoutMs is sent as grpc-timeout and enforced here too; waitForReady is LeanTransport's (a channel is one connection). */
export type LeanCallOptions = TransportCallOptions;

export type UnaryMethod<I extends DescMessage, O extends DescMessage> = DescMethod & { methodKind: "unary"; input: I; output: O };
export type ServerStreamingMethod<I extends DescMessage, O extends DescMessage> = DescMethod & {
  methodKind: "server_streaming";
  input: I;
  output: O;
};

// A WireMethod brings its own codec, so a caller can skip the generated descriptors (whose
// start-up costs more than this whole client; see process-wire.ts).
type AnyMethod = (DescMethod & { input: DescMessage; output: DescMessage }) | WireMethod<unknown, unknown, MethodKind>;

/** What a call sends: one request (unary, server stream) or a stream of them. */
type Requests = { one: unknown } | { many: AsyncIterable<unknown> };

function isWireMethod(m: AnyMethod): m is WireMethod<unknown, unknown> {
  return "encode" in m && typeof m.encode === "function";
}

type Codec = { path: string; encode(req: unknown): Uint8Array; decode(bytes: Uint8Array): unknown };

/**
 * Path and codec of either kind of method. @bufbuild/protobuf's runtime is loaded only for
 * a generated method: a caller that brings WireMethods (the CLI's run path) never pays for it.
 */
async function codecOf(m: AnyMethod): Promise<Codec> {
  if (isWireMethod(m)) return m;
  const { create, fromBinary, toBinary } = await import("@bufbuild/protobuf");
  return {
    path: pathOf(m),
    encode: (req) => toBinary(m.input, create(m.input, req as MessageInitShape<DescMessage>)),
    decode: (bytes) => fromBinary(m.output, bytes),
  };
}

function pathOf(m: AnyMethod): string {
  return isWireMethod(m) ? m.path : `/${m.parent.typeName}/${m.name}`;
}

const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
const USER_AGENT = "tether-lean/0.1";

/**
 * The connection as LeanChannel uses it: H2cSession's shape, which is the part of node's
 * ClientHttp2Session it needs (node's session and streams stand in for it over TLS).
 */
type Session = Pick<H2cSession, "request" | "ping" | "ref" | "unref" | "close" | "destroy" | "closed" | "destroyed" | "setLocalWindowSize" | "on" | "once" | "off">;
type Stream = H2cStream;

interface Endpoint {
  authority: string;
  connect(windowBytes: number | undefined): Session;
}

/** node:http2, for TLS only: loaded when first needed, since loading it costs more than a whole run. */
function nodeHttp2(): typeof Http2 {
  return process.getBuiltinModule("node:http2");
}

function h2c(socket: net.Socket, windowBytes: number | undefined): Session {
  return new H2cSession(socket, { windowBytes });
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\./.test(host);
}

/** Validates the target once, at the edge, and says how to connect to it. */
function endpoint(opts: LeanChannelOptions): Endpoint {
  const { target } = opts;
  if (target.startsWith("unix://")) {
    const path = target.slice("unix://".length);
    if (!path.startsWith("/")) {
      throw new TetherError(ErrorCode.InvalidArgument, `target "${target}": a Unix socket target needs an absolute path (unix:///run/x.sock)`);
    }
    return { authority: "localhost", connect: (window) => h2c(net.connect(path), window) };
  }
  const match = /^(grpcs?):\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})\/?$/.exec(target);
  if (!match) {
    throw new TetherError(ErrorCode.InvalidArgument, `target "${target}" is not unix:///path, grpc://host:port or grpcs://host:port`);
  }
  const [, scheme, host, port] = match as unknown as [string, string, string, string];
  const authority = `${host}:${port}`;
  if (scheme === "grpc") {
    if (opts.token !== undefined && !isLoopback(host)) {
      throw new TetherError(ErrorCode.InvalidArgument, `refusing to send the token in clear text to ${authority}: use grpcs://`);
    }
    const bare = host.replace(/^\[|\]$/g, "");
    return { authority, connect: (window) => h2c(net.connect({ host: bare, port: Number(port), noDelay: true }), window) };
  }
  const bareHost = host.replace(/^\[|\]$/g, "");
  const tls: Http2.SecureClientSessionOptions = { ALPNProtocols: ["h2"] };
  if (opts.caPem) tls.ca = opts.caPem;
  if (opts.clientCertPem) tls.cert = opts.clientCertPem;
  if (opts.clientKeyPem) tls.key = opts.clientKeyPem;
  // SNI may not carry an IP address (RFC 6066); node then checks the certificate against `host`.
  const name = opts.serverName ?? (net.isIP(bareHost) ? undefined : bareHost);
  if (name !== undefined) tls.servername = name;
  return {
    authority,
    connect: (window) =>
      nodeHttp2().connect(`https://${authority}`, { ...(window === undefined ? {} : { settings: { initialWindowSize: window } }), ...tls }) as unknown as Session,
  };
}

function lacksStatus(h: Http2.IncomingHttpHeaders): boolean {
  return h["grpc-status"] === undefined;
}

/** What a stream failure means to the caller: our own abort, a lost connection, or a reset. */
function streamFailure(err: unknown, path: string, target: string, sessionError: Error | undefined): TetherError {
  if (err instanceof TetherError) return err;
  if (sessionError) return new TetherError(ErrorCode.Unavailable, `${path}: cannot reach ${target}: ${sessionError.message}`, { cause: sessionError });
  return new TetherError(ErrorCode.Unavailable, `${path}: the call to ${target} failed: ${TetherError.from(err).message}`, { cause: err });
}

/** Writes each request as a frame, waiting for drain; ends the stream after the last. */
async function sendAll(stream: Stream, reqs: AsyncIterable<unknown>, encode: (req: unknown) => Uint8Array): Promise<void> {
  for await (const req of reqs) {
    if (stream.destroyed || stream.writableEnded) return;
    if (!stream.write(encodeFrame(encode(req)))) {
      await new Promise<void>((resolve) => {
        const done = () => {
          stream.off("drain", done);
          stream.off("close", done);
          resolve();
        };
        stream.on("drain", done);
        stream.on("close", done);
      });
    }
  }
  if (!stream.destroyed && !stream.writableEnded) stream.end();
}

export class LeanChannel implements AsyncDisposable, Transport {
  private readonly session: Session;
  private readonly active = new Set<Stream>();
  private readonly closeListeners = new Set<(err?: TetherError) => void>();
  private sessionError: Error | undefined;
  private ended = false;
  private connected = false;
  private readonly closedPromise: Promise<void>;

  private constructor(
    private readonly opts: LeanChannelOptions,
    private readonly ep: Endpoint,
  ) {
    const window = opts.windowBytes;
    this.session = ep.connect(window);
    // The settings above cover each stream; the connection's own window is raised apart.
    this.session.once("connect", () => {
      this.connected = true;
      if (window !== undefined) this.session.setLocalWindowSize(window);
    });
    // An idle channel must not keep a CLI alive; calls ref it while they run.
    this.session.unref();
    if (opts.keepaliveMs !== undefined) this.keepalive(opts.keepaliveMs);
    this.session.on("error", (err: Error) => {
      this.sessionError = err;
    });
    this.closedPromise = new Promise((resolve) => {
      this.session.once("close", () => {
        this.ended = true;
        const err = this.sessionError ? new TetherError(ErrorCode.Unavailable, `connection to ${opts.target} lost: ${this.sessionError.message}`) : undefined;
        for (const cb of this.closeListeners) cb(err);
        this.closeListeners.clear();
        resolve();
      });
    });
  }

  private keepalive(everyMs: number): void {
    const answerMs = Math.max(1000, Math.floor(everyMs / 2));
    let waiting: NodeJS.Timeout | undefined;
    const timer = setInterval(() => {
      if (this.active.size === 0 || waiting !== undefined || this.session.destroyed) return;
      waiting = setTimeout(() => {
        this.session.destroy(new Error(`the server did not answer a keepalive ping within ${answerMs} ms`));
      }, answerMs);
      waiting.unref();
      // A failed ping means the session is going away: its own error says why, not this one.
      const sent = this.session.ping(() => {
        clearTimeout(waiting);
        waiting = undefined;
      });
      if (!sent) {
        clearTimeout(waiting);
        waiting = undefined;
      }
    }, everyMs);
    timer.unref();
    this.session.once("close", () => {
      clearInterval(timer);
      clearTimeout(waiting);
    });
  }

  /** Starts connecting at once; errors surface on the first call and through onClose. */
  static connect(opts: LeanChannelOptions): LeanChannel {
    return new LeanChannel(opts, endpoint(opts));
  }

  get target(): string {
    return this.opts.target;
  }

  /** True once the connection is up and until it ends. */
  get isReady(): boolean {
    return this.connected && !this.ended && !this.session.destroyed;
  }

  /** Resolves when the connection is up; rejects UNAVAILABLE when it fails or closes first. */
  ready(): Promise<void> {
    if (this.isReady) return Promise.resolve();
    if (this.ended || this.session.destroyed) return Promise.reject(this.closedError());
    return new Promise((resolve, reject) => {
      const onConnect = () => {
        this.session.off("close", onClose);
        resolve();
      };
      const onClose = () => {
        this.session.off("connect", onConnect);
        reject(this.closedError());
      };
      this.session.once("connect", onConnect);
      this.session.once("close", onClose);
    });
  }

  private closedError(): TetherError {
    const why = this.sessionError ? `: ${this.sessionError.message}` : "";
    return new TetherError(ErrorCode.Unavailable, `cannot reach ${this.opts.target}${why}`, { cause: this.sessionError });
  }

  /** Called once when the connection ends (close(), server gone, network error). */
  onClose(cb: (err?: TetherError) => void): Disposable {
    if (this.ended) queueMicrotask(() => cb());
    else this.closeListeners.add(cb);
    return { [Symbol.dispose]: () => void this.closeListeners.delete(cb) };
  }

  unary<I extends DescMessage, O extends DescMessage>(method: UnaryMethod<I, O>, req: MessageInitShape<I>, opts?: LeanCallOptions): Promise<MessageShape<O>>;
  unary<Req, Res>(method: WireMethod<Req, Res, "unary">, req: Req, opts?: LeanCallOptions): Promise<Res>;
  async unary(method: AnyMethod, req: unknown, opts: LeanCallOptions = {}): Promise<unknown> {
    const path = pathOf(method);
    return this.single(path, this.call(method, { one: req }, opts));
  }

  private async single(path: string, responses: AsyncIterable<unknown>): Promise<unknown> {
    let result: unknown;
    let received = false;
    for await (const msg of responses) {
      if (received) throw new TetherError(ErrorCode.Internal, `${path}: the server sent more than one response`);
      result = msg;
      received = true;
    }
    if (!received) throw new TetherError(ErrorCode.Internal, `${path}: the server sent no response and status OK`);
    return result;
  }

  /** Messages as the consumer pulls them; HTTP/2 flow control holds the server back meanwhile. */
  serverStream<I extends DescMessage, O extends DescMessage>(
    method: ServerStreamingMethod<I, O>,
    req: MessageInitShape<I>,
    opts?: LeanCallOptions,
  ): AsyncIterable<MessageShape<O>>;
  serverStream<Req, Res>(method: WireMethod<Req, Res, "server_streaming">, req: Req, opts?: LeanCallOptions): AsyncIterable<Res>;
  serverStream(method: AnyMethod, req: unknown, opts: LeanCallOptions = {}): AsyncIterable<unknown> {
    return this.call(method, { one: req }, opts);
  }

  /** Sends every request (waiting for drain), then returns the one answer. */
  clientStream<Req, Res>(method: WireMethod<Req, Res, "client_streaming">, reqs: AsyncIterable<Req>, opts: LeanCallOptions = {}): Promise<Res> {
    return this.single(method.path, this.call(method, { many: reqs }, opts)) as Promise<Res>;
  }

  /** Requests go out as they come while responses are read: both directions at once. */
  bidi<Req, Res>(method: WireMethod<Req, Res, "bidi_streaming">, reqs: AsyncIterable<Req>, opts: LeanCallOptions = {}): AsyncIterable<Res> {
    return this.call(method, { many: reqs }, opts) as AsyncIterable<Res>;
  }

  /** Cancels calls still running and closes the connection. Idempotent. */
  async close(): Promise<void> {
    for (const stream of this.active) {
      stream.close(H2Error.CANCEL);
      // A stream the server already ended waits, in node, for its reader to consume what is
      // buffered before it goes away; a caller that stopped reading (an iterator left
      // suspended) would hold the session open for ever.
      stream.destroy();
    }
    if (!this.session.closed && !this.session.destroyed) this.session.close();
    // The session is unref'd (and may already be closing): hold the event loop until its
    // 'close' arrives, or a caller awaiting close() at top level would find the loop empty
    // and node would exit with code 13.
    const hold = setInterval(() => {}, 1 << 30);
    try {
      await this.closedPromise;
    } finally {
      clearInterval(hold);
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async *call(method: AnyMethod, input: Requests, opts: LeanCallOptions): AsyncGenerator<unknown> {
    const codec = await codecOf(method);
    const path = codec.path;
    if (opts.signal?.aborted) throw TetherError.from(opts.signal.reason ?? cancelled());
    if (this.ended || this.session.closed || this.session.destroyed) {
      // The connection may have failed before the first call got here (a TLS handshake): say why.
      if (this.sessionError) throw new TetherError(ErrorCode.Unavailable, `${path}: ${this.closedError().message}`, { cause: this.sessionError });
      throw new TetherError(ErrorCode.Unavailable, `${path}: the channel to ${this.opts.target} is closed; connect again`);
    }
    const body = "one" in input ? encodeFrame(codec.encode(input.one)) : undefined;
    const headers: Record<string, string> = {
      ":method": "POST",
      ":path": path,
      ":authority": this.ep.authority,
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-accept-encoding": "identity",
      "user-agent": USER_AGENT,
    };
    if (opts.timeoutMs !== undefined) headers["grpc-timeout"] = encodeTimeout(opts.timeoutMs);
    if (this.opts.token !== undefined) headers.authorization = `Bearer ${this.opts.token}`;

    const stream = this.session.request(headers);
    this.active.add(stream);
    this.session.ref();
    let response: Http2.IncomingHttpHeaders | undefined;
    let trailers: Http2.IncomingHttpHeaders | undefined;
    stream.once("response", (h: Http2.IncomingHttpHeaders) => (response = h));
    stream.once("trailers", (h: Http2.IncomingHttpHeaders) => (trailers = h));
    // Our own reason to stop (abort, deadline) wins over whatever the stream reports after.
    let stopped: TetherError | undefined;
    const stop = (reason: TetherError) => {
      stopped ??= reason;
      if (!stream.closed) stream.close(H2Error.CANCEL);
    };
    const onAbort = () => stop(TetherError.from(opts.signal?.reason ?? cancelled()));
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => stop(new TetherError(ErrorCode.DeadlineExceeded, `${path}: no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    let finished = false;
    try {
      if (body !== undefined) stream.end(body);
      else {
        // A request source that fails ends the call with its error (it is the caller's).
        const many = (input as { many: AsyncIterable<unknown> }).many;
        void sendAll(stream, many, (r) => codec.encode(r)).catch((err: unknown) => stop(TetherError.from(err)));
      }
      const decoder = new FrameDecoder(this.opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
      const checkHeaders = () => {
        const bad = response && checkResponseHeaders(response, path);
        if (bad) throw bad;
      };
      try {
        for await (const bytes of readMessages(stream, decoder, checkHeaders)) {
          if (stopped) throw stopped;
          yield codec.decode(bytes);
        }
      } catch (err) {
        throw stopped ?? streamFailure(err, path, this.opts.target, this.sessionError);
      }
      if (stopped) throw stopped;
      const final = trailers ?? response;
      // The connection died under the call (a cut, the server gone): node closes its streams
      // with a reset code of their own, but for the caller that is a lost connection, to retry.
      if (final === undefined || (trailers === undefined && lacksStatus(final))) {
        if (this.session.destroyed || this.sessionError) throw streamFailure(new Error("the connection closed during the call"), path, this.opts.target, this.sessionError);
      }
      if (final === undefined) {
        if (stream.rstCode !== undefined && stream.rstCode !== H2Error.NO_ERROR) throw resetError(stream.rstCode, path);
        throw streamFailure(new Error("the stream closed before any response"), path, this.opts.target, this.sessionError);
      }
      const status = statusFromHeaders(final);
      if (status) throw status;
      if (status === undefined) {
        const bad = response && checkResponseHeaders(response, path);
        if (bad) throw bad;
        if (stream.rstCode !== undefined && stream.rstCode !== H2Error.NO_ERROR) throw resetError(stream.rstCode, path);
        throw new TetherError(ErrorCode.Internal, `${path}: the server ended the call without a grpc-status`);
      }
      decoder.finish();
      finished = true;
    } finally {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      // The consumer left early (break, throw): tell the server to stop producing.
      if (!finished && !stream.closed) stream.close(H2Error.CANCEL);
      this.active.delete(stream);
      if (this.active.size === 0 && !this.session.destroyed) this.session.unref();
    }
  }
}

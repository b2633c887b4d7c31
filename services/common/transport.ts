// The four call shapes every exec client is built on, apart from how they reach the server:
// grpc-js (grpc-client.ts), the lean node:http2 channel (clients/environment/lean) and, for
// tests, anything else that moves bytes. A method says how its messages become bytes, so a
// transport never needs generated descriptors; the client engine (clients/environment:
// reconnect, resumable Attach, session keep-alive, stdin streaming) sits above this.

export type MethodKind = "unary" | "server_streaming" | "client_streaming" | "bidi_streaming";

/** One RPC as a transport sees it: its path and its codecs. */
export interface WireMethod<Req, Res, K extends MethodKind = MethodKind> {
  readonly path: string;
  readonly kind: K;
  encode(req: Req): Uint8Array;
  decode(bytes: Uint8Array): Res;
}

export interface TransportCallOptions {
  signal?: AbortSignal;
  /** Milliseconds from now for the whole call. */
  timeoutMs?: number;
  /**
   * Queue the call until the connection is up instead of failing fast while the server is
   * unreachable (e.g. restarting). Bounded by `readyTimeoutMs` (then UNAVAILABLE) and by the
   * call's own deadline and signal.
   */
  waitForReady?: boolean;
  /** How long a waitForReady call may wait for a connection; unbounded when absent. */
  readyTimeoutMs?: number;
}

export interface Transport {
  /** Where it connects, for error messages. */
  readonly target: string;
  unary<Req, Res>(method: WireMethod<Req, Res, "unary">, req: Req, opts?: TransportCallOptions): Promise<Res>;
  /** Messages as the consumer pulls them; flow control holds the server back meanwhile. Leaving early cancels the call. */
  serverStream<Req, Res>(method: WireMethod<Req, Res, "server_streaming">, req: Req, opts?: TransportCallOptions): AsyncIterable<Res>;
  /** Sends every request (waiting for the connection to drain), then returns the one answer. */
  clientStream<Req, Res>(method: WireMethod<Req, Res, "client_streaming">, reqs: AsyncIterable<Req>, opts?: TransportCallOptions): Promise<Res>;
  bidi<Req, Res>(method: WireMethod<Req, Res, "bidi_streaming">, reqs: AsyncIterable<Req>, opts?: TransportCallOptions): AsyncIterable<Res>;
  /** Cancels calls still running and closes connections. Idempotent. */
  close(): Promise<void>;
}

// The grpc-js Transport: unary and streaming calls over a grpc-js channel, AbortSignal for
// cancellation, TetherError (through the shared status codec) for failures, and a
// waitForReady that grpc-js really honours. Typed clients come from gen-methods.ts.
import * as grpc from "@grpc/grpc-js";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { CallRequests } from "./call-requests.js";
import { type GrpcClient, bindTransport } from "./gen-methods.js";
import { piecewiseResponse } from "./grpc-js-internals.js";
import { fromGrpcError } from "./grpc-status.js";
import { PreEncoded } from "./pre-encoded.js";
import { ErrorCode, TetherError } from "./tether-error.js";
import type { Transport, TransportCallOptions, WireMethod } from "./transport.js";

export type { CallOptions, ClientMethod, GrpcClient } from "./gen-methods.js";

export interface BindOptions {
  /** Sent with every call (e.g. the bearer token). */
  metadata?: grpc.Metadata;
}

type Call = { cancel(): void; cancelWithStatus?(code: grpc.status, details: string): void };

/**
 * Per-call metadata and options. grpc-js 1.14 reads waitForReady only from the metadata's
 * options (load-balancing-call.js, resolving-call.js), never from CallOptions: set there, a
 * call made while the server is unreachable is queued until the channel is READY.
 */
function callSetup(base: grpc.Metadata | undefined, opts: TransportCallOptions | undefined): { metadata: grpc.Metadata; options: grpc.CallOptions } {
  const metadata = base?.clone() ?? new grpc.Metadata();
  if (opts?.waitForReady) metadata.setOptions({ waitForReady: true });
  const options: grpc.CallOptions = {};
  if (opts?.timeoutMs !== undefined) options.deadline = Date.now() + opts.timeoutMs;
  return { metadata, options };
}

/**
 * Bounds a waitForReady call's wait for a connection (not its run time): if the channel is
 * not READY within readyTimeoutMs, the call is cancelled and fails UNAVAILABLE. Returns the
 * failure to report instead of grpc-js's CANCELLED, once that happened.
 */
function watchReady(raw: grpc.Client, target: string, call: Call, opts: TransportCallOptions | undefined): { failure(): TetherError | undefined; dispose(): void } {
  const ms = opts?.readyTimeoutMs;
  if (!opts?.waitForReady || ms === undefined) return { failure: () => undefined, dispose: () => {} };
  let failure: TetherError | undefined;
  let done = false;
  if (raw.getChannel().getConnectivityState(false) !== grpc.connectivityState.READY) {
    raw.waitForReady(Date.now() + ms, (err) => {
      if (!err || done) return;
      failure = new TetherError(ErrorCode.Unavailable, `cannot reach ${target}: no connection within ${ms} ms`);
      call.cancel();
    });
  }
  return { failure: () => failure, dispose: () => void (done = true) };
}

function bindSignal(call: Call, signal: AbortSignal | undefined): () => void {
  if (!signal) return () => {};
  const onAbort = () => call.cancel();
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  return () => signal.removeEventListener("abort", onAbort);
}

function ignoreLateError(): void {}

async function* readStream<T>(call: grpc.ClientReadableStream<T>, cleanup: () => void, failure: () => TetherError | undefined): AsyncIterable<T> {
  try {
    // Messages straight from the call's 'data' events (call-requests.ts): Node's stream
    // iterator costs a nextTick and a buffer round trip per message (a PTY's every echo).
    for await (const msg of new CallRequests<T>(call, (m) => m as T)) yield msg;
  } catch (err) {
    throw failure() ?? fromGrpcError(err);
  } finally {
    cleanup();
    // The consumer is gone, and CallRequests let go of the call's 'error': the CANCELLED that
    // cancel() brings (or any later error) has nobody to go to, and an 'error' nobody listens
    // for is thrown as an uncaught exception (it killed every early break: Watch, Attach).
    call.on("error", ignoreLateError);
    // Stops the server's producer when the consumer breaks out early.
    call.cancel();
  }
}

/** Requests handed to grpc-js and not yet passed on to HTTP/2: a few, not its 16-message queue. */
const MAX_UNSENT_REQUESTS = 4;

/**
 * Writes every request, keeping at most MAX_UNSENT_REQUESTS in grpc-js's queue so a fast
 * producer cannot outrun the connection. Waiting for `drain` alone lets grpc-js queue 16
 * messages (16 MiB of file data), on top of what HTTP/2 and TLS hold.
 */
async function writeAll(call: grpc.ClientWritableStream<unknown>, reqs: AsyncIterable<unknown>): Promise<void> {
  let unsent = 0;
  let wake: (() => void) | undefined;
  const sent = () => {
    unsent--;
    wake?.();
  };
  for await (const req of reqs) {
    unsent++;
    call.write(req, sent);
    while (unsent >= MAX_UNSENT_REQUESTS && !call.destroyed) {
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
  }
  call.end();
}

const toBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** A Transport over a grpc-js client (its channel); closing it closes the channel. */
function grpcJsTransport(raw: grpc.Client, target: string, bindOptions: BindOptions = {}): Transport {
  // A request in pieces (an upload's header and the caller's bytes) is copied once, into
  // grpc-js's frame, instead of being joined first (grpc-js-internals.ts, 2).
  const serialize = (m: WireMethod<unknown, unknown>, req: unknown): Buffer =>
    req instanceof PreEncoded && req.parts.length > 1 ? piecewiseResponse(req.byteLength, (target, offset) => req.copyTo(target, offset)) : toBuffer(m.encode(req));
  const codecs = (m: WireMethod<unknown, unknown>) => [(req: unknown) => serialize(m, req), (bytes: Buffer) => m.decode(bytes)] as const;
  return {
    target,
    unary: (m, req, opts) =>
      new Promise((resolve, reject) => {
        const [ser, des] = codecs(m);
        const { metadata, options } = callSetup(bindOptions.metadata, opts);
        let cleanup = () => {};
        const call = raw.makeUnaryRequest(m.path, ser, des, req, metadata, options, (err, res) => {
          const failure = ready.failure();
          cleanup();
          if (err) reject(failure ?? fromGrpcError(err));
          else resolve(res as never);
        });
        const ready = watchReady(raw, target, call, opts);
        const unbind = bindSignal(call, opts?.signal);
        cleanup = () => (unbind(), ready.dispose());
      }),
    serverStream: (m, req, opts) => {
      const [ser, des] = codecs(m);
      const { metadata, options } = callSetup(bindOptions.metadata, opts);
      const call = raw.makeServerStreamRequest(m.path, ser, des, req, metadata, options);
      const ready = watchReady(raw, target, call, opts);
      const unbind = bindSignal(call, opts?.signal);
      return readStream(call, () => (unbind(), ready.dispose()), ready.failure) as AsyncIterable<never>;
    },
    clientStream: (m, reqs, opts) =>
      new Promise((resolve, reject) => {
        const [ser, des] = codecs(m);
        const { metadata, options } = callSetup(bindOptions.metadata, opts);
        let cleanup = () => {};
        const call = raw.makeClientStreamRequest(m.path, ser, des, metadata, options, (err, res) => {
          const failure = ready.failure();
          cleanup();
          if (err) reject(failure ?? fromGrpcError(err));
          else resolve(res as never);
        });
        const ready = watchReady(raw, target, call, opts);
        const unbind = bindSignal(call, opts?.signal);
        cleanup = () => (unbind(), ready.dispose());
        void writeAll(call, reqs).catch((err: unknown) => {
          call.cancel();
          reject(fromGrpcError(err));
        });
      }),
    bidi: (m, reqs, opts) => {
      const [ser, des] = codecs(m);
      const { metadata, options } = callSetup(bindOptions.metadata, opts);
      const call = raw.makeBidiStreamRequest(m.path, ser, des, metadata, options);
      const ready = watchReady(raw, target, call, opts);
      // A failing request source ends the call; the reader then reports CANCELLED.
      void writeAll(call, reqs).catch(() => call.cancel());
      const unbind = bindSignal(call, opts?.signal);
      return readStream(call, () => (unbind(), ready.dispose()), ready.failure) as AsyncIterable<never>;
    },
    close: async () => raw.close(),
  };
}

/** A typed client for `service` over a new grpc-js channel. */
export function createGrpcClient<T extends GenServiceMethods>(
  service: GenService<T>,
  address: string,
  credentials: grpc.ChannelCredentials,
  options: grpc.ClientOptions = {},
  bindOptions: BindOptions = {},
): GrpcClient<T> & { close(): void; raw: grpc.Client } {
  return bindClient(service, new grpc.Client(address, credentials, options), bindOptions);
}

/** Binds a service's methods to an existing grpc-js client, so several services share one channel. */
export function bindClient<T extends GenServiceMethods>(
  service: GenService<T>,
  raw: grpc.Client,
  bindOptions: BindOptions = {},
): GrpcClient<T> & { close(): void; raw: grpc.Client } {
  const transport = grpcJsTransport(raw, raw.getChannel().getTarget(), bindOptions);
  return Object.assign(bindTransport(service, transport), { close: () => raw.close(), raw });
}

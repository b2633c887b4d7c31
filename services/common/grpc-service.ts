// Adapts protobuf-es service descriptors to grpc-js, so the server (grpc-js) and
// every client (grpc-js, connect-node) share one set of generated types.
// Server side: handlers are plain async functions and async generators that take an
// AbortSignal-carrying context; this module owns decoding, errors, backpressure and
// cancellation for all of them.
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, DescMethod, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { ErrorCode, TetherError, cancelled } from "./tether-error.js";
import { toGrpcStatus } from "./grpc-status.js";
import { PreEncoded } from "./pre-encoded.js";
import { CallRequests } from "./call-requests.js";
import { decodeWriteStreamRequest } from "./write-stream-decoder.js";
import { type DirectWrite, directWriter, onCancelled, piecewiseResponse } from "./grpc-js-internals.js";

/** What a handler learns about its call. `signal` aborts on cancel, deadline and when the call ends. */
export interface CallContext {
  readonly signal: AbortSignal;
  /** Request headers (grpc-js Metadata on the wire; empty in memory). */
  readonly metadata: Pick<grpc.Metadata, "get">;
  readonly peer: string;
  readonly method: string;
}

type In<M> = M extends { input: infer I extends DescMessage } ? MessageShape<I> : never;
type Out<M> = M extends { output: infer O extends DescMessage } ? MessageInitShape<O> | PreEncoded : never;

export type MethodHandler<M> = M extends { methodKind: "unary" }
  ? (req: In<M>, ctx: CallContext) => Promise<Out<M>>
  : M extends { methodKind: "server_streaming" }
    ? (req: In<M>, ctx: CallContext) => AsyncIterable<Out<M>>
    : M extends { methodKind: "client_streaming" }
      ? (reqs: AsyncIterable<In<M>>, ctx: CallContext) => Promise<Out<M>>
      : (reqs: AsyncIterable<In<M>>, ctx: CallContext) => AsyncIterable<Out<M>>;

export type ServiceHandlers<T extends GenServiceMethods> = { [K in keyof T]: MethodHandler<T[K]> };

/** A request whose bytes did not decode; handlers see it as INVALID_ARGUMENT, not grpc-js's INTERNAL. */
class MalformedRequest {
  constructor(readonly error: TetherError) {}
}

function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

/** Requests decoded by hand: a PTY sends one per keystroke (write-stream-decoder.ts). */
const HAND_DECODERS: ReadonlyMap<string, (bytes: Uint8Array) => unknown> = new Map([["tether.exec.v1.WriteStreamRequest", decodeWriteStreamRequest]]);

function decoder<D extends DescMessage>(schema: D) {
  const decode = (HAND_DECODERS.get(schema.typeName) as ((bytes: Uint8Array) => MessageShape<D>) | undefined) ?? ((bytes: Uint8Array) => fromBinary(schema, bytes));
  return (bytes: Buffer): MessageShape<D> | MalformedRequest => {
    try {
      return decode(bytes);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return new MalformedRequest(
        new TetherError(ErrorCode.InvalidArgument, `malformed ${schema.typeName}: ${why}`),
      );
    }
  };
}

function encoder<D extends DescMessage>(schema: D) {
  return (msg: MessageShape<D> | MessageInitShape<D> | PreEncoded): Buffer => {
    if (msg instanceof PreEncoded) {
      const bytes = msg.bytes;
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    const full = isMessage(msg, schema) ? msg : create(schema, msg);
    const bytes = toBinary(schema, full);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

/**
 * Server responses: grpc-js frames one by copying what this returns after its 5-byte header,
 * using only `byteLength` and `copy(frame, 5)` (server-interceptors.js, serializeMessage). A
 * PreEncoded in pieces answers those two itself, so bulk output goes from the output log's
 * buffers into the frame in one copy, with no joined buffer to allocate and collect.
 * grpc-service.test.ts fails if grpc-js starts to use the value any other way.
 */
function responseEncoder<D extends DescMessage>(schema: D) {
  const encode = encoder(schema);
  return (msg: MessageShape<D> | MessageInitShape<D> | PreEncoded): Buffer => {
    if (!(msg instanceof PreEncoded) || msg.parts.length === 1) return encode(msg);
    return piecewiseResponse(msg.byteLength, (target, offset) => msg.copyTo(target, offset));
  };
}

function isMessage<D extends DescMessage>(msg: unknown, schema: D): msg is MessageShape<D> {
  return typeof msg === "object" && msg !== null && (msg as { $typeName?: string }).$typeName === schema.typeName;
}

/** The grpc-js service definition for a protobuf-es service. */
function grpcServiceDefinition(service: DescService): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    def[method.localName] = {
      path: methodPath(method),
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestSerialize: encoder(method.input),
      requestDeserialize: decoder(method.input),
      responseSerialize: responseEncoder(method.output),
      responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
    } as grpc.MethodDefinition<unknown, unknown>;
  }
  return def;
}

/** Registers handlers for a service on a grpc-js server. */
export function addService<T extends GenServiceMethods>(
  server: grpc.Server,
  service: GenService<T>,
  handlers: ServiceHandlers<T>,
): void {
  const impl: grpc.UntypedServiceImplementation = {};
  for (const method of service.methods) {
    const handler = (handlers as Record<string, unknown>)[method.localName];
    if (typeof handler !== "function") throw new Error(`no handler for ${methodPath(method)}`);
    impl[method.localName] = wrap(method, handler as (...args: unknown[]) => unknown);
  }
  server.addService(grpcServiceDefinition(service), impl);
}

type SurfaceCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerReadableStream<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>;

/**
 * The reason every finished call's signal carries. One instance: an Error captures a stack
 * trace when made (~10 µs, more under load), and this one is made for every call, on the
 * path of the next; nobody reads its stack.
 */
const CALL_ENDED = cancelled("the call ended");
/** Likewise for a client's cancel: every Attach → first output → cancel made one (≈ 15 µs with its stack). */
const CLIENT_CANCELLED = cancelled("the client cancelled the call");

function callContext(call: SurfaceCall, method: DescMethod): { ctx: CallContext; end: () => void } {
  const controller = new AbortController();
  const stopWatching = onCancelled(call, () => controller.abort(CLIENT_CANCELLED));
  const deadline = call.getDeadline();
  let timer: NodeJS.Timeout | undefined;
  if (deadline instanceof Date || (typeof deadline === "number" && Number.isFinite(deadline))) {
    const ms = Math.max(0, new Date(deadline).getTime() - Date.now());
    timer = setTimeout(
      () => controller.abort(new TetherError(ErrorCode.DeadlineExceeded, "the call's deadline passed")),
      ms,
    );
  }
  const end = () => {
    if (timer) clearTimeout(timer);
    stopWatching();
    if (!controller.signal.aborted) controller.abort(CALL_ENDED);
  };
  return {
    ctx: { signal: controller.signal, metadata: call.metadata, peer: call.getPeer(), method: methodPath(method) },
    end,
  };
}

function unwrap<T>(req: T | MalformedRequest): T {
  if (req instanceof MalformedRequest) throw req.error;
  return req;
}

/**
 * Reads a client stream with backpressure: grpc-js pauses the HTTP/2 stream while we do not pull.
 * A handler that stops reading (it failed, or it is done) must not destroy the call: a bidi
 * call still has to send its status, and a destroyed one never does.
 */
function requests<T>(call: grpc.ServerReadableStream<T | MalformedRequest, unknown> | grpc.ServerDuplexStream<T | MalformedRequest, unknown>): AsyncIterable<T> {
  return new CallRequests<T>(call, unwrap as (m: unknown) => T);
}

/**
 * Bulk response bytes (PreEncoded) handed to grpc-js or HTTP/2 and not yet written to the
 * socket, past which `send` waits: none. The next output message is taken from the log
 * only once the last one reached the socket (whose kernel buffer keeps the connection busy
 * meanwhile), so a fast producer's chunks gather in the log and go out merged, up to
 * ATTACH_MERGE_BYTES, instead of one pipe read per message. Measured on 256 MiB of stdout:
 * server CPU 2.7 ms per MiB (3.9-4.6 at 1 MiB allowed, grpc-js's own limit is 16 messages),
 * 15-40 % more throughput, and a cut loses at most one message in flight.
 */
const MAX_QUEUED_BYTES = 0;

/**
 * Writes a stream's responses; `send` resolves when grpc-js accepted the message and its
 * queue is under both limits, so a slow client slows the handler.
 */
class ResponseWriter {
  #queuedBytes = 0;
  /** Writes whose callback has not run yet. */
  #inFlight = 0;
  /** Of those, the ones through grpc-js (its queue must be empty before a direct write). */
  #grpcInFlight = 0;
  #mustDrain = false;
  #failed: Error | undefined;
  #waiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  /** The signal whose abort rejects the waiters (the call's). */
  #abortWatched: AbortSignal | undefined;
  readonly #direct: DirectWrite | undefined;

  constructor(private readonly call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>) {
    call.on("drain", () => {
      this.#mustDrain = false;
      this.#wake();
    });
    this.#direct = directWriter(call);
  }

  async send(msg: unknown, signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw TetherError.from(signal.reason);
    const failedBefore = this.#failed;
    if (failedBefore) throw failedBefore;
    const bulk = msg instanceof PreEncoded && msg.bulk;
    const size = bulk ? msg.byteLength : 0;
    let direct = false;
    const done = (err?: Error | null) => {
      this.#queuedBytes -= size;
      this.#inFlight--;
      if (!direct) this.#grpcInFlight--;
      // A write that failed after send() returned fails the next one.
      if (err) this.#failed ??= err;
      this.#wake();
    };
    this.#queuedBytes += size;
    this.#inFlight++;
    // Bulk messages skip grpc-js's copy into a frame of their own (grpc-js-internals.ts, 6),
    // bounded by the same byte cap below; the rest, and any message while grpc-js still has
    // one queued, keep grpc-js's order by going through it.
    if (bulk && this.#grpcInFlight === 0 && this.#direct) direct = this.#direct(msg.parts, msg.byteLength, done);
    if (!direct) {
      this.#grpcInFlight++;
      if (!this.call.write(msg, done)) this.#mustDrain = true;
    }
    while (this.#mustDrain || this.#queuedBytes > MAX_QUEUED_BYTES) {
      const failed = this.#failed;
      if (failed) throw failed;
      await this.#change(signal);
    }
  }

  /**
   * Resolves once every write completed. A bidi call whose 'error' is emitted while a write
   * is still in flight never sends its status (grpc-js 1.14), so failures wait for this.
   */
  async settled(signal: AbortSignal): Promise<void> {
    while (this.#inFlight > 0) await this.#change(signal);
  }

  /**
   * Waits for the next write callback or 'drain'; every waiter wakes (send and settled may
   * overlap). One abort listener per call signal, not an add/remove pair per wait: a PTY's
   * output waits here once per echo.
   */
  #change(signal: AbortSignal): Promise<void> {
    // grpc-js drops the callbacks of a cancelled call: an abort that already happened must end the wait.
    if (signal.aborted) return Promise.reject(TetherError.from(signal.reason));
    if (this.#abortWatched !== signal) {
      this.#abortWatched = signal;
      signal.addEventListener(
        "abort",
        () => {
          const waiters = this.#waiters;
          this.#waiters = [];
          for (const w of waiters) w.reject(TetherError.from(signal.reason));
        },
        { once: true },
      );
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  #wake(): void {
    if (this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.resolve();
  }
}

function wrap(method: DescMethod, handler: (...args: unknown[]) => unknown) {
  switch (method.methodKind) {
    case "unary":
      return (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        const { ctx, end } = callContext(call, method);
        Promise.resolve()
          .then(() => handler(unwrap(call.request), ctx))
          .then(
            (res) => callback(null, res),
            (err) => callback(toGrpcStatus(err)),
          )
          .finally(end);
      };
    case "client_streaming":
      return (call: grpc.ServerReadableStream<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        const { ctx, end } = callContext(call, method);
        Promise.resolve()
          .then(() => handler(requests(call), ctx))
          .then(
            (res) => callback(null, res),
            (err) => callback(toGrpcStatus(err)),
          )
          .finally(end);
      };
    case "server_streaming":
      return (call: grpc.ServerWritableStream<unknown, unknown>) => {
        const { ctx, end } = callContext(call, method);
        void pump(call, () => handler(unwrap(call.request), ctx) as AsyncIterable<unknown>, ctx).finally(end);
      };
    case "bidi_streaming":
      return (call: grpc.ServerDuplexStream<unknown, unknown>) => {
        const { ctx, end } = callContext(call, method);
        void pump(call, () => handler(requests(call), ctx) as AsyncIterable<unknown>, ctx).finally(end);
      };
  }
}

async function pump(
  call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>,
  produce: () => AsyncIterable<unknown>,
  ctx: CallContext,
): Promise<void> {
  const writer = new ResponseWriter(call);
  try {
    for await (const msg of produce()) await writer.send(msg, ctx.signal);
    call.end();
  } catch (err) {
    // A cancelled client is gone: there is nobody to send a status to.
    if (call.cancelled) return;
    // Aborted means the call is over anyway: then there is nothing left to wait for.
    await writer.settled(ctx.signal).catch(() => undefined);
    call.emit("error", toGrpcStatus(err));
  }
}

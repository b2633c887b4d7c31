// Typed grpc-js clients for protobuf-es services: promises for unary calls, async
// iterables for streams, AbortSignal for cancellation, TetherError for failures.
import * as grpc from "@grpc/grpc-js";
import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { grpcServiceDefinition } from "./grpc-service.js";
import { fromGrpcError } from "./grpc-status.js";
import type { PreEncoded } from "./pre-encoded.js";

export interface CallOptions {
  signal?: AbortSignal;
  /** Milliseconds from now. */
  timeoutMs?: number;
  metadata?: grpc.Metadata;
  /** Queue the call until the channel is connected instead of failing fast. */
  waitForReady?: boolean;
}

export interface BindOptions {
  /** Sent with every call (e.g. the bearer token), merged under per-call metadata. */
  metadata?: grpc.Metadata;
}

type In<M> = M extends { input: infer I extends DescMessage } ? MessageInitShape<I> : never;
type Out<M> = M extends { output: infer O extends DescMessage } ? MessageShape<O> : never;

export type ClientMethod<M> = M extends { methodKind: "unary" }
  ? (req: In<M>, opts?: CallOptions) => Promise<Out<M>>
  : M extends { methodKind: "server_streaming" }
    ? (req: In<M>, opts?: CallOptions) => AsyncIterable<Out<M>>
    : M extends { methodKind: "client_streaming" }
      ? (reqs: AsyncIterable<In<M> | PreEncoded>, opts?: CallOptions) => Promise<Out<M>>
      : (reqs: AsyncIterable<In<M>>, opts?: CallOptions) => AsyncIterable<Out<M>>;

export type GrpcClient<T extends GenServiceMethods> = { [K in keyof T]: ClientMethod<T[K]> };

function grpcOptions(opts: CallOptions | undefined): grpc.CallOptions {
  const out: grpc.CallOptions = {};
  if (opts?.timeoutMs !== undefined) out.deadline = Date.now() + opts.timeoutMs;
  if (opts?.waitForReady) (out as { waitForReady?: boolean }).waitForReady = true;
  return out;
}

function bindSignal(call: { cancel(): void }, signal: AbortSignal | undefined): () => void {
  if (!signal) return () => {};
  const onAbort = () => call.cancel();
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  return () => signal.removeEventListener("abort", onAbort);
}

async function* readStream<T>(call: grpc.ClientReadableStream<T>, unbind: () => void): AsyncIterable<T> {
  try {
    for await (const msg of call as AsyncIterable<T>) yield msg;
  } catch (err) {
    throw fromGrpcError(err);
  } finally {
    unbind();
    // Stops the server's producer when the consumer breaks out early.
    call.cancel();
  }
}

/** A typed client for `service` over an existing grpc-js channel-owning client. */
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
  const def = grpcServiceDefinition(service);
  const client: Record<string, unknown> = { close: () => raw.close(), raw };
  for (const method of service.methods) {
    const d = def[method.localName]!;
    const path = d.path;
    const ser = d.requestSerialize;
    const des = d.responseDeserialize;
    const md = (opts?: CallOptions) => {
      const base = bindOptions.metadata?.clone() ?? new grpc.Metadata();
      if (opts?.metadata) base.merge(opts.metadata);
      return base;
    };
    switch (method.methodKind) {
      case "unary":
        client[method.localName] = (req: unknown, opts?: CallOptions) =>
          new Promise((resolve, reject) => {
            let unbind = () => {};
            const call = raw.makeUnaryRequest(path, ser, des, req, md(opts), grpcOptions(opts), (err, res) => {
              unbind();
              if (err) reject(fromGrpcError(err));
              else resolve(res);
            });
            unbind = bindSignal(call, opts?.signal);
          });
        break;
      case "server_streaming":
        client[method.localName] = (req: unknown, opts?: CallOptions) => {
          const call = raw.makeServerStreamRequest(path, ser, des, req, md(opts), grpcOptions(opts));
          return readStream(call, bindSignal(call, opts?.signal));
        };
        break;
      case "client_streaming":
        client[method.localName] = (reqs: AsyncIterable<unknown>, opts?: CallOptions) =>
          new Promise((resolve, reject) => {
            let unbind = () => {};
            const call = raw.makeClientStreamRequest(path, ser, des, md(opts), grpcOptions(opts), (err, res) => {
              unbind();
              if (err) reject(fromGrpcError(err));
              else resolve(res);
            });
            unbind = bindSignal(call, opts?.signal);
            void writeAll(call, reqs).catch((err) => {
              call.cancel();
              reject(fromGrpcError(err));
            });
          });
        break;
      case "bidi_streaming":
        client[method.localName] = (reqs: AsyncIterable<unknown>, opts?: CallOptions) => {
          const call = raw.makeBidiStreamRequest(path, ser, des, md(opts), grpcOptions(opts));
          void writeAll(call, reqs).catch(() => call.cancel());
          return readStream(call, bindSignal(call, opts?.signal));
        };
        break;
    }
  }
  return client as GrpcClient<T> & { close(): void; raw: grpc.Client };
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

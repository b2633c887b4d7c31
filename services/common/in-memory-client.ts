// Calls service handlers in memory with the same client shape a gRPC client has, so
// the in-process backend runs exactly the validation and error paths the network
// backends run, without sockets or serialization.
import { create, fromBinary } from "@bufbuild/protobuf";
import type { DescMessage, DescMethod, MessageInitShape } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import type { CallOptions, GrpcClient } from "./gen-methods.js";
import type { CallContext, ServiceHandlers } from "./grpc-service.js";
import { PreEncoded } from "./pre-encoded.js";
import { ErrorCode, TetherError, cancelled } from "./tether-error.js";

const NO_METADATA = { get: () => [] };

function context(method: DescMethod, opts: CallOptions | undefined): { ctx: CallContext; end: () => void } {
  const controller = new AbortController();
  const onAbort = () => controller.abort(TetherError.from(opts?.signal?.reason ?? cancelled()));
  if (opts?.signal?.aborted) onAbort();
  else opts?.signal?.addEventListener("abort", onAbort, { once: true });
  const timer =
    opts?.timeoutMs === undefined
      ? undefined
      : setTimeout(() => controller.abort(new TetherError(ErrorCode.DeadlineExceeded, "the call's deadline passed")), opts.timeoutMs);
  const end = () => {
    clearTimeout(timer);
    opts?.signal?.removeEventListener("abort", onAbort);
    if (!controller.signal.aborted) controller.abort(cancelled("the call ended"));
  };
  const path = `/${method.parent.typeName}/${method.name}`;
  return { ctx: { signal: controller.signal, metadata: NO_METADATA, peer: "in-process", method: path }, end };
}

async function* mapRequests(schema: DescMessage, reqs: AsyncIterable<MessageInitShape<DescMessage> | PreEncoded>) {
  for await (const req of reqs) yield req instanceof PreEncoded ? fromBinary(schema, req.bytes) : create(schema, req);
}

export function inMemoryClient<T extends GenServiceMethods>(
  service: GenService<T>,
  handlers: ServiceHandlers<T>,
): GrpcClient<T> & { close(): void } {
  const client: Record<string, unknown> = { close: () => {} };
  for (const method of service.methods) {
    const handler = (handlers as Record<string, (...args: unknown[]) => unknown>)[method.localName]!.bind(handlers);
    const out = (res: unknown) =>
      res instanceof PreEncoded ? fromBinary(method.output, res.bytes) : create(method.output, res as MessageInitShape<DescMessage>);
    switch (method.methodKind) {
      case "unary":
        client[method.localName] = async (req: MessageInitShape<DescMessage>, opts?: CallOptions) => {
          const { ctx, end } = context(method, opts);
          try {
            return out(await handler(create(method.input, req), ctx));
          } finally {
            end();
          }
        };
        break;
      case "client_streaming":
        client[method.localName] = async (reqs: AsyncIterable<MessageInitShape<DescMessage>>, opts?: CallOptions) => {
          const { ctx, end } = context(method, opts);
          try {
            return out(await handler(mapRequests(method.input, reqs), ctx));
          } finally {
            end();
          }
        };
        break;
      case "server_streaming":
      case "bidi_streaming":
        client[method.localName] = (req: unknown, opts?: CallOptions) =>
          (async function* () {
            const { ctx, end } = context(method, opts);
            try {
              const input = method.methodKind === "server_streaming"
                ? create(method.input, req as MessageInitShape<DescMessage>)
                : mapRequests(method.input, req as AsyncIterable<MessageInitShape<DescMessage>>);
              for await (const res of handler(input, ctx) as AsyncIterable<unknown>) yield out(res);
            } finally {
              end();
            }
          })();
        break;
    }
  }
  return client as GrpcClient<T> & { close(): void };
}

// Typed clients for protobuf-es services over any Transport: the generated descriptors give
// each method its codecs (protobuf-es binary), and the client shape is the one the in-memory
// client and every Environment use (promises for unary calls, async iterables for streams).
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, DescMethod, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { PreEncoded } from "./pre-encoded.js";
import { encodeWriteStreamRequest } from "./write-stream-encoder.js";
import { decodeAttachResponse } from "./attach-response-decoder.js";
import type { Transport, TransportCallOptions, WireMethod } from "./transport.js";

export type CallOptions = TransportCallOptions;

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

function isMessage(msg: unknown, schema: DescMessage): boolean {
  return typeof msg === "object" && msg !== null && (msg as { $typeName?: string }).$typeName === schema.typeName;
}

/** The bytes of a request: pre-encoded ones as they are, messages and init shapes through protobuf-es. */
function encodeMessage(schema: DescMessage, msg: unknown): Uint8Array {
  if (msg instanceof PreEncoded) return msg.bytes;
  const full = isMessage(msg, schema) ? (msg as MessageShape<DescMessage>) : create(schema, msg as MessageInitShape<DescMessage>);
  return toBinary(schema, full);
}

export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

/** A generated method as a transport sees it. */
function wireMethod(method: DescMethod): WireMethod<unknown, unknown> {
  return {
    path: methodPath(method),
    kind: method.methodKind,
    encode:
      method.input.typeName === "tether.exec.v1.WriteStreamRequest"
        ? (req) => (req instanceof PreEncoded ? req.bytes : encodeWriteStreamRequest(req as Parameters<typeof encodeWriteStreamRequest>[0]))
        : (req) => encodeMessage(method.input, req),
    decode: method.output.typeName === "tether.exec.v1.AttachResponse" ? decodeAttachResponse : (bytes) => fromBinary(method.output, bytes),
  };
}

/** A typed client for `service` whose calls go over `transport`. */
export function bindTransport<T extends GenServiceMethods>(service: GenService<T>, transport: Transport): GrpcClient<T> {
  const client: Record<string, unknown> = {};
  for (const method of service.methods) {
    const wire = wireMethod(method);
    switch (method.methodKind) {
      case "unary":
        client[method.localName] = (req: unknown, opts?: CallOptions) => transport.unary(wire as WireMethod<unknown, unknown, "unary">, req, opts);
        break;
      case "server_streaming":
        client[method.localName] = (req: unknown, opts?: CallOptions) => transport.serverStream(wire as WireMethod<unknown, unknown, "server_streaming">, req, opts);
        break;
      case "client_streaming":
        client[method.localName] = (reqs: AsyncIterable<unknown>, opts?: CallOptions) =>
          transport.clientStream(wire as WireMethod<unknown, unknown, "client_streaming">, reqs, opts);
        break;
      case "bidi_streaming":
        client[method.localName] = (reqs: AsyncIterable<unknown>, opts?: CallOptions) => transport.bidi(wire as WireMethod<unknown, unknown, "bidi_streaming">, reqs, opts);
        break;
    }
  }
  return client as GrpcClient<T>;
}

// Server reflection (v1 and v1alpha, for buf curl and grpcurl) fed from the same
// descriptors the code was generated from, so every service resolves. @grpc/reflection
// (protobufjs and proto-loader: about a third of the server's start-up) loads on the first
// reflection call: the methods are registered at start with pass-through codecs.
import type * as grpc from "@grpc/grpc-js";
import { EventEmitter } from "node:events";
import { toBinary } from "@bufbuild/protobuf";
import type { DescFile } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { type CapturedService, captureServices } from "./grpc-js-internals.js";
import { toGrpcStatus } from "./grpc-status.js";
import { ErrorCode, TetherError } from "./tether-error.js";

const SERVICES = ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"];
const METHOD = "ServerReflectionInfo";

/** @grpc/reflection's own method definitions and handlers, by path. */
type Loaded = CapturedService<(stream: ReflectionStream) => void>;
/** The part of a duplex call @grpc/reflection uses: 'data' and 'end' in, write and end out. */
type ReflectionStream = EventEmitter & { write(message: unknown): void; end(): void };

function withDependencies(files: DescFile[]): DescFile[] {
  const seen = new Map<string, DescFile>();
  const visit = (f: DescFile) => {
    if (seen.has(f.name)) return;
    seen.set(f.name, f);
    f.dependencies.forEach(visit);
  };
  files.forEach(visit);
  return [...seen.values()];
}

async function load(files: DescFile[]): Promise<Loaded> {
  const { ReflectionService } = await import("@grpc/reflection");
  const fileDescriptorProtos = withDependencies(files).map((f) => Buffer.from(toBinary(FileDescriptorProtoSchema, f.proto)));
  // @grpc/reflection reads `fileDescriptorProtos` from each package-definition entry.
  const root = { tether: { fileDescriptorProtos } } as unknown as ConstructorParameters<typeof ReflectionService>[0];
  // It adds itself to a server: hand it one that records what it adds (grpc-js-internals.ts, 4).
  return captureServices<(stream: ReflectionStream) => void>((server) => new ReflectionService(root).addToServer(server));
}

export function addReflectionService(server: grpc.Server, files: DescFile[]): void {
  let loading: Promise<Loaded> | undefined;
  const raw = (b: Buffer) => b;
  for (const service of SERVICES) {
    const path = `/${service}/${METHOD}`;
    const def = { path, requestStream: true, responseStream: true, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw };
    const handler = (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      // Until a 'data' listener is added the call stays paused: nothing is lost while loading.
      (loading ??= load(files)).then(
        (loaded) => {
          const real = loaded.get(path)!;
          const stream = Object.assign(new EventEmitter(), {
            write: (message: unknown) => call.write(real.def.responseSerialize(message)),
            end: () => call.end(),
          });
          call.on("data", (b: Buffer) => stream.emit("data", real.def.requestDeserialize(b)));
          call.on("end", () => stream.emit("end"));
          real.handler(stream);
        },
        (err: unknown) => call.emit("error", toGrpcStatus(new TetherError(ErrorCode.Internal, "server reflection failed to load", { cause: err }))),
      );
    };
    server.addService({ [METHOD]: def }, { [METHOD]: handler });
  }
}

// Server reflection (v1 and v1alpha, for buf curl and grpcurl) fed from the same
// descriptors the code was generated from, so every service resolves.
import type * as grpc from "@grpc/grpc-js";
import { toBinary } from "@bufbuild/protobuf";
import type { DescFile } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { ReflectionService } from "@grpc/reflection";

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

export function addReflectionService(server: grpc.Server, files: DescFile[]): void {
  const fileDescriptorProtos = withDependencies(files).map((f) => Buffer.from(toBinary(FileDescriptorProtoSchema, f.proto)));
  // @grpc/reflection reads `fileDescriptorProtos` from each package-definition entry.
  const root = { tether: { fileDescriptorProtos } } as unknown as ConstructorParameters<typeof ReflectionService>[0];
  new ReflectionService(root).addToServer(server);
}

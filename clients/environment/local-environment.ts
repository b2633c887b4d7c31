// The in-process backend: an ExecCore in this process, driven through the same
// handlers the gRPC server uses (called in memory, no sockets), so every check and
// error is identical to the network backends'.
import { EnvironmentService } from "../../gen/tether/exec/v1/environment_pb.js";
import { FileSystemService } from "../../gen/tether/exec/v1/filesystem_pb.js";
import { ProcessService } from "../../gen/tether/exec/v1/process_pb.js";
import { SessionService } from "../../gen/tether/exec/v1/session_pb.js";
import { inMemoryClient } from "../../services/common/in-memory-client.js";
import { ExecCore, type ExecCoreOptions } from "../../services/exec-server/exec-core.js";
import { fileSystemHandlers } from "../../services/exec-server/grpc/filesystem-handlers.js";
import { processHandlers } from "../../services/exec-server/grpc/process-handlers.js";
import { sessionHandlers } from "../../services/exec-server/grpc/session-handlers.js";
import type { ExecClients } from "./grpc-connection.js";
import { GrpcEnvironment, type GrpcEnvironmentOptions } from "./grpc-environment.js";

export function inProcessClients(core: ExecCore): ExecClients {
  return {
    processes: inMemoryClient(ProcessService, processHandlers(core)),
    sessions: inMemoryClient(SessionService, sessionHandlers(core)),
    environment: inMemoryClient(EnvironmentService, { getInfo: async () => core.facts }),
    files: inMemoryClient(FileSystemService, fileSystemHandlers(core.files, (id) => core.filePolicyFor(id))),
    close: () => {},
  };
}

export const LocalEnvironment = {
  /** Starts an exec core in this process; closing the environment stops it and kills its processes. */
  async create(options: ExecCoreOptions & Pick<GrpcEnvironmentOptions, "defaultSandbox" | "detachedTtlMs"> = {}): Promise<GrpcEnvironment> {
    const core = await ExecCore.create(options);
    return GrpcEnvironment.open(inProcessClients(core), {
      kind: "local",
      description: "this process (local)",
      defaultSandbox: options.defaultSandbox,
      detachedTtlMs: options.detachedTtlMs,
      decisionTimeoutMs: options.decisionTimeoutMs,
      onClose: () => core.close(),
    });
  },
};

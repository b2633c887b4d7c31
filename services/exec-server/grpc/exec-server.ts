// Starts a gRPC exec server: every tether.exec.v1 service on the common server stack
// (auth, health, reflection, listen addresses: services/common/grpc-server.ts).
import { EnvironmentService, file_tether_exec_v1_environment } from "../../../gen/tether/exec/v1/environment_pb.js";
import { FileSystemService, file_tether_exec_v1_filesystem } from "../../../gen/tether/exec/v1/filesystem_pb.js";
import { ProcessService, file_tether_exec_v1_process } from "../../../gen/tether/exec/v1/process_pb.js";
import { SessionService, file_tether_exec_v1_session } from "../../../gen/tether/exec/v1/session_pb.js";
import { type GrpcServer, type GrpcServerOptions, startGrpcServer } from "../../common/grpc-server.js";
import { addService } from "../../common/grpc-service.js";
import type { ExecCore } from "../exec-core.js";
import { fileSystemHandlers } from "./filesystem-handlers.js";
import { processHandlers } from "./process-handlers.js";
import { sessionHandlers } from "./session-handlers.js";

export type { TlsFiles } from "../../common/grpc-server.js";
export { SERVER_CHANNEL_OPTIONS } from "../../common/grpc-server.js";
export type ExecServerOptions = GrpcServerOptions;
export type ExecServer = GrpcServer;

export function startExecServer(core: ExecCore, options: ExecServerOptions): Promise<ExecServer> {
  return startGrpcServer(
    {
      register(server) {
        addService(server, ProcessService, processHandlers(core));
        addService(server, SessionService, sessionHandlers(core));
        addService(server, EnvironmentService, { getInfo: async () => core.facts });
        addService(server, FileSystemService, fileSystemHandlers(core.files, (sessionId) => core.filePolicyFor(sessionId)));
      },
      serviceNames: [ProcessService.typeName, SessionService.typeName, EnvironmentService.typeName, FileSystemService.typeName],
      files: [file_tether_exec_v1_process, file_tether_exec_v1_session, file_tether_exec_v1_environment, file_tether_exec_v1_filesystem],
    },
    options,
  );
}

// Starts a gRPC agent server: AgentService on the same server stack as the exec server
// (auth, TLS, health, reflection, listen addresses: services/common/grpc-server.ts).
import { AgentService, file_tether_agent_v1_agent } from "../../../gen/tether/agent/v1/agent_pb.js";
import { type GrpcServer, type GrpcServerOptions, startGrpcServer } from "../../common/grpc-server.js";
import { addService } from "../../common/grpc-service.js";
import type { AgentCore } from "../agent-core.js";
import { agentHandlers } from "./agent-handlers.js";

export type AgentServer = GrpcServer;

export function startAgentServer(core: AgentCore, options: GrpcServerOptions): Promise<AgentServer> {
  return startGrpcServer(
    {
      register: (server) => addService(server, AgentService, agentHandlers(core)),
      serviceNames: [AgentService.typeName],
      files: [file_tether_agent_v1_agent],
    },
    options,
  );
}

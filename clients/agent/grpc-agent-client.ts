// The agent over gRPC (tether.agent.v1). TODO(issue 15): lands with the service.
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import type { AgentClient } from "./agent-client.js";

export const GrpcAgentClient = {
  async connect(url: string, _options: { token?: string; caFile?: string }): Promise<AgentClient> {
    throw new TetherError(ErrorCode.Unimplemented, `the gRPC agent client is not built yet (${url}): run the agent in process`);
  },
};

// `tether agent-server` as a real child process (the built CLI), for end-to-end tests that
// kill and restart the agent: resolves once it printed `listening <url>`.
import { type TetherProcess, startTetherProcess } from "./exec-server-process.js";

export interface AgentServerProcess extends TetherProcess {
  url: string;
}

export async function startAgentServerProcess(options: { listen: string; env: NodeJS.ProcessEnv; args?: string[] }): Promise<AgentServerProcess> {
  const server = await startTetherProcess({ args: ["agent-server", "--listen", options.listen, "--log-level", "warn", ...(options.args ?? [])], env: options.env });
  return { ...server, url: server.urls[0]! };
}

// The one way callers (the CLI, the TUI, tests) get an AgentClient: the agent in this process
// by default, or an agent server at `agentUrl`. The interface stays the same either way.
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import { AgentCore, type AgentCoreOptions } from "../../services/agent-server/agent-core.js";
import type { ModelClient } from "../../services/agent-server/model/model-client.js";
import type { ThreadServicesFactory } from "../../services/agent-server/thread/thread-services.js";
import type { AgentClient } from "./agent-client.js";
import type { ShellEnvironmentPolicy } from "../../services/agent-server/tools/unified-exec/command-env.js";
import { InProcessAgentClient } from "./in-process-agent-client.js";

export interface CreateAgentClientOptions {
  /** An agent server (unix:///…, grpc://host:port, grpcs://…); in process when absent. */
  agentUrl?: string;
  /** Bearer token and CA for a remote agent server. */
  token?: string;
  caFile?: string;
  /** In process: where rollouts, config and rules live (default $TETHER_HOME or ~/.tether). */
  tetherHome?: string;
  /** In process: where rollouts go instead of tetherHome/sessions (AgentCoreOptions.rolloutHome). */
  rolloutHome?: string;
  /** In process: the model (default: the Responses API client from config and environment). */
  model?: ModelClient;
  /** In process: tools and policy per thread (default: tether's tools and execpolicy). */
  services?: ThreadServicesFactory;
  openEnvironment?: AgentCoreOptions["openEnvironment"];
  /** In process, the default opener: the exec server's token and CA file (AgentCoreOptions.environmentCredentials). */
  environmentCredentials?: AgentCoreOptions["environmentCredentials"];
  instructions?: AgentCoreOptions["instructions"];
  /** In process: open a thread's environment at its first tool call (AgentCoreOptions.lazyEnvironment). */
  lazyEnvironment?: boolean;
  /** In process: every model request's reasoning settings (config model_reasoning_*). */
  reasoning?: AgentCoreOptions["reasoning"];
  /** In process: how long a thread's exec session outlives the agent (config exec_detached_ttl_ms). */
  detachedTtlMs?: number;
  /** In process: an idle thread is unloaded after this long (config agent_idle_thread_ttl_ms). */
  idleThreadTtlMs?: number;
  /** In process: config `notify`, the program run after each completed turn (AgentCoreOptions.notify). */
  notify?: readonly string[];
  notifyWarning?: AgentCoreOptions["notifyWarning"];
  /** In process, default services: feature flags by name (tether features list); tools of a disabled feature are not offered. */
  features?: ReadonlyMap<string, boolean>;
  /** In process, default instructions: config's project_doc_max_bytes (the cap on AGENTS.md text). */
  projectDocMaxBytes?: number;
  /** In process, default instructions: config's project_doc_fallback_filenames (tried where a directory has no AGENTS.md). */
  projectDocFallbackFilenames?: readonly string[];
  /** In process, default services: config's [shell_environment_policy] for exec_command's processes. */
  shellEnvironment?: ShellEnvironmentPolicy;
}

export async function createAgentClient(options: CreateAgentClientOptions = {}): Promise<AgentClient> {
  if (options.agentUrl) {
    const { GrpcAgentClient } = await import("./grpc-agent-client.js");
    return GrpcAgentClient.connect(options.agentUrl, { token: options.token, caFile: options.caFile });
  }
  const defaults = options.model && options.services ? undefined : await import("../../services/agent-server/default-agent-parts.js");
  const model = options.model ?? (await defaults!.defaultModelClient());
  const services = options.services ?? defaults!.defaultThreadServices({ tetherHome: options.tetherHome, features: options.features, shellEnvironment: options.shellEnvironment });
  const core = await AgentCore.create({
    tetherHome: options.tetherHome,
    rolloutHome: options.rolloutHome,
    model,
    services,
    openEnvironment: options.openEnvironment,
    environmentCredentials: options.environmentCredentials,
    // The CLI's own opener: its first model request does not wait for the exec core to load.
    lazyEnvironment: options.lazyEnvironment ?? options.openEnvironment === undefined,
    instructions: options.instructions ?? (defaults ? (cwd, env) => defaults.defaultInstructions(cwd, env, options.tetherHome, { maxBytes: options.projectDocMaxBytes, fallbackFileNames: options.projectDocFallbackFilenames }) : undefined),
    reasoning: options.reasoning,
    detachedTtlMs: options.detachedTtlMs,
    idleThreadTtlMs: options.idleThreadTtlMs,
    notify: options.notify,
    notifyWarning: options.notifyWarning,
  });
  return new InProcessAgentClient(core, { ownsCore: true });
}

export function unavailable(what: string): never {
  throw new TetherError(ErrorCode.Unimplemented, `${what} is not available in this build yet`);
}

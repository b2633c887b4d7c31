// `tether agent-server`: serve the agent (tether.agent.v1) until SIGTERM/SIGINT on the same
// server stack and flags as `tether exec-server`; then interrupt every turn, unload every
// thread (exec-server sessions are detached for a restarted server to find; in-process and
// container environments end their processes) and close the listener.
import { createLogger, resolveLogLevel } from "../../services/common/logger.js";
import { loadConfig } from "../../services/common/config/load-config.js";
import { asStartupUsageError } from "./cli-error.js";
import { readServerSecurity } from "./cli-options.js";

export interface AgentServerFlags {
  listen: string;
  tokenFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  logLevel?: string;
  profile?: string;
  config?: string[];
  enable?: string[];
  disable?: string[];
}

export async function agentServerCommand(flags: AgentServerFlags): Promise<void> {
  const logger = createLogger({ name: "agent-server", level: resolveLogLevel(flags.logLevel) });
  const { token, tls } = await readServerSecurity(flags);
  const loaded = loadConfig({ cwd: process.cwd(), profile: flags.profile, overrides: flags.config ?? [] });
  const [{ AgentCore }, { startAgentServer }, parts, { resolveFeatures }] = await Promise.all([
    import("../../services/agent-server/agent-core.js"),
    import("../../services/agent-server/grpc/agent-server.js"),
    import("../../services/agent-server/default-agent-parts.js"),
    import("../../services/agent-server/features/feature-registry.js"),
  ]);
  // [features], -c features.NAME=…, --enable and --disable decide the tools every thread is offered, as in `tether exec`.
  const features = resolveFeatures({ config: loaded.config.features, enable: flags.enable, disable: flags.disable });
  for (const w of [...loaded.warnings, ...features.warnings]) logger.warn(w);
  const core = await AgentCore.create({
    tetherHome: loaded.home,
    model: await parts.defaultModelClient(loaded.config),
    services: parts.defaultThreadServices({ tetherHome: loaded.home, features: features.enabled, shellEnvironment: loaded.config.shell_environment_policy }),
    instructions: (cwd, env) => parts.defaultInstructions(cwd, env, loaded.home, { maxBytes: loaded.config.project_doc_max_bytes, fallbackFileNames: loaded.config.project_doc_fallback_filenames }),
    reasoning: parts.reasoningFromConfig(loaded.config),
    detachedTtlMs: loaded.config.exec_detached_ttl_ms,
    idleThreadTtlMs: loaded.config.agent_idle_thread_ttl_ms,
    notify: loaded.config.notify,
  });
  let server;
  try {
    server = await startAgentServer(core, { listen: flags.listen, token, tls, logger });
  } catch (err) {
    await core.close();
    throw asStartupUsageError(err);
  }
  // The first line on stdout is the address, with the real port for tcp://host:0.
  process.stdout.write(`listening ${server.url}\n`);
  logger.info({ url: server.url, home: loaded.home, tls: Boolean(tls), token: Boolean(token) }, "listening");
  await new Promise<void>((resolve) => {
    const stop = (sig: NodeJS.Signals) => {
      logger.info({ signal: sig }, "stopping: refusing new calls, ending turns");
      resolve();
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
    process.once("SIGHUP", stop);
  });
  server.refuseNewCalls();
  const stopping = performance.now();
  // A stop is usually a restart: exec sessions on exec servers are detached, not closed, so
  // the model's long-lived processes are there for the restarted server (exec_detached_ttl_ms).
  await core.close({ detach: true });
  await server.close();
  logger.info({ ms: Math.round(performance.now() - stopping) }, "stopped");
}

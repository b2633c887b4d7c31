// `tether exec-server`: serve this machine until SIGTERM/SIGINT, then kill every
// process it owns before exiting (children also die if this process is SIGKILLed:
// each runs under tether-launch with a parent-death signal).
import { createLogger, resolveLogLevel } from "../../services/common/logger.js";
import { ExecCore } from "../../services/exec-server/exec-core.js";
import { detectSandboxSupport } from "../../services/exec-server/sandbox/sandbox-capabilities.js";
import { asStartupUsageError } from "./cli-error.js";
import { parseIntOption, readServerSecurity } from "./cli-options.js";

/** Codex's WebSocket front door; the same test as codex-server.ts's, without loading it. */
function isCodexListen(url: string): boolean {
  return /^(wss?|ws\+unix):\/\//.test(url);
}

export interface ExecServerFlags {
  /** gRPC (unix://, tcp://) and Codex (ws://, wss://, ws+unix://) addresses; at least one. */
  listen: string[];
  tokenFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  cwd: string;
  detachedTtl: string;
  /** How long an escalation or network request waits for the controller; a session may ask for its own. */
  decisionTimeout: string;
  maxProcesses: string;
  maxPids: string;
  retainBytes: string;
  retainBytesMax: string;
  retainBytesTotal: string;
  sandbox: string;
  logLevel?: string;
}

export async function execServerCommand(flags: ExecServerFlags): Promise<void> {
  // Start-up overlap: the sandbox probe (two bwrap runs, answer cached for ExecCore.create)
  // runs in child processes while this process loads grpc-js and the services.
  const logger = createLogger({ name: "exec-server", level: resolveLogLevel(flags.logLevel) });
  void detectSandboxSupport();
  const grpcServer = import("../../services/exec-server/grpc/exec-server.js");
  grpcServer.catch(() => undefined); // awaited below; a flag error first must not leave it unhandled
  const codexServer = flags.listen.some(isCodexListen) ? import("../../services/exec-server/codex/codex-server.js") : undefined;
  codexServer?.catch(() => undefined);
  const { token, tls } = await readServerSecurity(flags);
  const core = await ExecCore.create({
    defaultCwd: flags.cwd,
    defaultDetachedTtlMs: parseIntOption("--detached-ttl", flags.detachedTtl, 1),
    decisionTimeoutMs: parseIntOption("--decision-timeout", flags.decisionTimeout, 1),
    limits: {
      maxRunning: parseIntOption("--max-processes", flags.maxProcesses, 1),
      maxPidsPerProcess: parseIntOption("--max-pids", flags.maxPids, 0),
      defaultRetainedBytes: parseIntOption("--retain-bytes", flags.retainBytes, 64 << 10),
      maxRetainedBytesPerProcess: parseIntOption("--retain-bytes-max", flags.retainBytesMax, 64 << 10),
      maxRetainedBytesTotal: parseIntOption("--retain-bytes-total", flags.retainBytesTotal, 1 << 20),
    },
    defaultSandboxMode: flags.sandbox,
    // Read once: enumerating process.env goes through C++ per variable (~0.1–0.25 ms per
    // Start here), and nothing in this process changes its environment once serving.
    serverEnv: { ...process.env },
  }).catch((err: unknown) => {
    throw asStartupUsageError(err);
  });
  const servers: { url: string; refuseNewCalls(): void; close(): Promise<void> }[] = [];
  try {
    for (const listen of flags.listen) {
      servers.push(
        isCodexListen(listen)
          ? await (await codexServer!).startCodexServer(core, { listen, token, tls, logger })
          : await (await grpcServer).startExecServer(core, { listen, token, tls, logger }),
      );
    }
  } catch (err) {
    for (const server of servers) await server.close();
    await core.close();
    throw asStartupUsageError(err);
  }
  // One line per address, in the order given, with the real port for port 0.
  for (const server of servers) {
    process.stdout.write(`listening ${server.url}\n`);
    logger.info({ url: server.url, sandbox: flags.sandbox, tls: Boolean(tls), token: Boolean(token) }, "listening");
  }
  await new Promise<void>((resolve) => {
    const stop = (sig: NodeJS.Signals) => {
      logger.info({ signal: sig }, "stopping: refusing new calls, ending processes");
      resolve();
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
    process.once("SIGHUP", stop);
  });
  // New calls are refused first, then processes end (Attach streams get their exit events),
  // then the listener.
  for (const server of servers) server.refuseNewCalls();
  const stopping = performance.now();
  await core.close();
  for (const server of servers) await server.close();
  logger.info({ ms: Math.round(performance.now() - stopping) }, "stopped");
}

// `tether exec-server`: serve this machine until SIGTERM/SIGINT, then kill every
// process it owns before exiting (children also die if this process is SIGKILLed:
// each runs under tether-launch with a parent-death signal).
import { readFile } from "node:fs/promises";
import { createLogger, resolveLogLevel } from "../../services/common/logger.js";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import { ExecCore } from "../../services/exec-server/exec-core.js";
import { detectSandboxSupport } from "../../services/exec-server/sandbox/sandbox-capabilities.js";
import { parseIntOption, readSecretFile } from "./cli-options.js";

export interface ExecServerFlags {
  listen: string;
  tokenFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  cwd: string;
  detachedTtl: string;
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
  if (Boolean(flags.tlsCert) !== Boolean(flags.tlsKey)) {
    throw new TetherError(ErrorCode.InvalidArgument, "--tls-cert and --tls-key go together: pass both");
  }
  const token = flags.tokenFile ? await readSecretFile(flags.tokenFile, "--token-file") : undefined;
  const tls = flags.tlsCert && flags.tlsKey
    ? {
        cert: await readFile(flags.tlsCert).catch((e: unknown) => { throw TetherError.from(e, `--tls-cert ${flags.tlsCert}`); }),
        key: await readFile(flags.tlsKey).catch((e: unknown) => { throw TetherError.from(e, `--tls-key ${flags.tlsKey}`); }),
        clientCa: flags.tlsClientCa ? await readFile(flags.tlsClientCa) : undefined,
      }
    : undefined;
  const core = await ExecCore.create({
    defaultCwd: flags.cwd,
    defaultDetachedTtlMs: parseIntOption("--detached-ttl", flags.detachedTtl, 1),
    limits: {
      maxRunning: parseIntOption("--max-processes", flags.maxProcesses, 1),
      maxPidsPerProcess: parseIntOption("--max-pids", flags.maxPids, 0),
      defaultRetainedBytes: parseIntOption("--retain-bytes", flags.retainBytes, 64 << 10),
      maxRetainedBytesPerProcess: parseIntOption("--retain-bytes-max", flags.retainBytesMax, 64 << 10),
      maxRetainedBytesTotal: parseIntOption("--retain-bytes-total", flags.retainBytesTotal, 1 << 20),
    },
    defaultSandboxMode: flags.sandbox,
  });
  let server;
  try {
    const { startExecServer } = await grpcServer;
    server = await startExecServer(core, { listen: flags.listen, token, tls, logger });
  } catch (err) {
    await core.close();
    throw err;
  }
  // The first line on stdout is the address, with the real port for tcp://host:0.
  process.stdout.write(`listening ${server.url}\n`);
  logger.info({ url: server.url, sandbox: flags.sandbox, tls: Boolean(tls), token: Boolean(token) }, "listening");
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
  server.refuseNewCalls();
  const stopping = performance.now();
  await core.close();
  await server.close();
  logger.info({ ms: Math.round(performance.now() - stopping) }, "stopped");
}

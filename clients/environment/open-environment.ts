// Brings up the environment a user named: connects to an exec server, or starts one
// (in-process, in a container). Providers are imported lazily, so a plain
// `tether run --env unix://…` loads neither the exec server nor Docker.
import { readFile } from "../../services/common/fs-async.js";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import type { Environment, SandboxPolicyInit } from "./environment.js";
import { parseEnvTarget } from "./env-target.js";

export interface OpenOptions {
  token?: string;
  caFile?: string;
  /** Log provider start-up time to stderr. */
  verbose?: boolean;
  /**
   * Resume this session (exec servers only): an agent that restarted finds its processes
   * again, if it comes back within the session's detached TTL. Default: a new session.
   */
  sessionId?: string;
  /** How long the session outlives its connection; 0 = the server's default. */
  detachedTtlMs?: number;
  /** The session's sandbox for processes that ask for none and for its file calls. */
  defaultSandbox?: SandboxPolicyInit;
  /** How long escalation and network requests wait for the session's controller; 0 = the server's default. */
  decisionTimeoutMs?: number;
  /** Exec servers: how calls travel (GrpcEnvironmentOptions.transport); default grpc-js. */
  transport?: "grpc-js" | "lean";
}

export async function openEnvironment(text: string, options: OpenOptions = {}): Promise<Environment> {
  const target = parseEnvTarget(text);
  const started = performance.now();
  let env: Environment;
  switch (target.kind) {
    case "unix":
    case "grpc":
    case "grpcs": {
      if (target.kind === "grpc" && options.caFile) {
        throw new TetherError(ErrorCode.InvalidArgument, "--ca-file only applies to grpcs:// (TLS) environments");
      }
      const caPem = options.caFile ? await readFile(options.caFile).catch((e: unknown) => { throw TetherError.from(e, `--ca-file ${options.caFile}`); }) : undefined;
      const { GrpcEnvironment } = await import("./grpc-environment.js");
      env = await GrpcEnvironment.connect(target, { token: options.token, caPem, transport: options.transport, ...sessionOptions(options) });
      break;
    }
    case "local": {
      const { LocalEnvironment } = await import("./local-environment.js");
      if (options.sessionId !== undefined) throw new TetherError(ErrorCode.InvalidArgument, "a local environment lives in this process: there is no session to resume");
      env = await LocalEnvironment.create(sessionOptions(options));
      break;
    }
    case "docker": {
      const { startDockerEnvironment } = await import("./docker-provider.js");
      if (options.sessionId !== undefined) throw new TetherError(ErrorCode.InvalidArgument, "a docker environment starts a fresh container: there is no session to resume");
      env = await startDockerEnvironment({ image: target.image, log: options.verbose ? (msg) => process.stderr.write(`tether: ${msg}\n`) : undefined, ...sessionOptions(options) });
      break;
    }
  }
  if (options.verbose) process.stderr.write(`tether: ${env.description} ready in ${Math.round(performance.now() - started)} ms\n`);
  return env;
}

function sessionOptions(o: OpenOptions): { sessionId?: string; detachedTtlMs?: number; defaultSandbox?: SandboxPolicyInit; decisionTimeoutMs?: number } {
  return { sessionId: o.sessionId, detachedTtlMs: o.detachedTtlMs, defaultSandbox: o.defaultSandbox, decisionTimeoutMs: o.decisionTimeoutMs };
}

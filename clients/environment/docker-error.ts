// Docker client failures as TetherErrors: an unreachable daemon says how to start one (naming
// the socket this client uses), API errors keep Docker's message and the step that failed.
import type Dockerode from "dockerode";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";

/** The HTTP status of a Docker API error, if it has one. */
export function statusOf(err: unknown): number | undefined {
  if (typeof err === "object" && err !== null && "statusCode" in err && typeof err.statusCode === "number") return err.statusCode;
  return undefined;
}

/** Where the client talks to its daemon: a Dockerode made with its own socket is not DOCKER_HOST's. */
function daemonAddress(docker: Dockerode): string {
  const modem = (docker as { modem?: { socketPath?: unknown; host?: unknown; port?: unknown } }).modem;
  if (typeof modem?.socketPath === "string") return modem.socketPath;
  if (typeof modem?.host === "string") return `${modem.host}:${String(modem.port ?? "")}`;
  return process.env.DOCKER_HOST ?? "/var/run/docker.sock";
}

export function dockerError(docker: Dockerode, err: unknown, what: string): TetherError {
  if (err instanceof TetherError) return err;
  const code = typeof err === "object" && err !== null && "code" in err ? String(err.code) : "";
  if (["ENOENT", "ECONNREFUSED", "EACCES", "ECONNRESET", "ETIMEDOUT"].includes(code)) {
    return new TetherError(
      ErrorCode.Unavailable,
      `${what}: cannot reach the Docker daemon at ${daemonAddress(docker)} (${code}): start one with \`scripts/start-dockerd.sh\` (or \`dockerd &\`), or set DOCKER_HOST`,
      { cause: err },
    );
  }
  const status = statusOf(err);
  const message = err instanceof Error ? err.message.replace(/^\(HTTP code \d+\)\s*/, "") : String(err);
  const mapped = status === 404 ? ErrorCode.NotFound : status === 409 ? ErrorCode.AlreadyExists : status === 400 ? ErrorCode.InvalidArgument : ErrorCode.Internal;
  return new TetherError(mapped, `${what}: ${message}`, { cause: err });
}

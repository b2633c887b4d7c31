// The words users give for where commands run: `local`, `unix:///path`,
// `grpc://host:port`, `grpcs://host:port`, `docker` or `docker:IMAGE`.
import path from "node:path";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";

/** What the user typed (--env, default_env): the CLI exits 2 (usage) for these. */
const USAGE = { details: { usage: "true" } };

export const DEFAULT_IMAGE = "tether-exec-server:latest";

export type EnvTarget =
  | { kind: "local" }
  | { kind: "unix"; path: string }
  | { kind: "grpc" | "grpcs"; host: string; port: number }
  | { kind: "docker"; image: string };

export function parseEnvTarget(text: string): EnvTarget {
  if (text === "local") return { kind: "local" };
  if (text === "docker") return { kind: "docker", image: DEFAULT_IMAGE };
  if (text.startsWith("docker:")) {
    const image = text.slice("docker:".length);
    if (image === "") throw new TetherError(ErrorCode.InvalidArgument, "docker: needs an image name, e.g. docker:tether-exec-server:latest", USAGE);
    return { kind: "docker", image };
  }
  if (text.startsWith("unix://")) {
    const file = text.slice("unix://".length);
    if (!path.isAbsolute(file)) throw new TetherError(ErrorCode.InvalidArgument, `${text}: the socket path must be absolute (unix:///run/tether.sock)`, USAGE);
    return { kind: "unix", path: file };
  }
  const m = /^(grpcs?):\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})\/?$/.exec(text);
  if (m) {
    const port = Number(m[3]);
    if (port < 1 || port > 65535) throw new TetherError(ErrorCode.InvalidArgument, `${text}: port must be 1-65535`, USAGE);
    return { kind: m[1] as "grpc" | "grpcs", host: m[2]!.replace(/^\[|\]$/g, ""), port };
  }
  throw new TetherError(
    ErrorCode.InvalidArgument,
    `environment ${JSON.stringify(text)} is not understood: use local, unix:///path, grpc://host:port, grpcs://host:port or docker[:IMAGE]`,
    USAGE,
  );
}

/** The grpc-js target string for a network or socket environment. */
export function grpcTarget(t: Extract<EnvTarget, { kind: "unix" | "grpc" | "grpcs" }>): string {
  if (t.kind === "unix") return `unix://${t.path}`;
  return `${t.host.includes(":") ? `[${t.host}]` : t.host}:${t.port}`;
}

export type NetworkTarget = Extract<EnvTarget, { kind: "unix" | "grpc" | "grpcs" }>;

export function describeTarget(target: NetworkTarget): string {
  return target.kind === "unix" ? `unix://${target.path}` : `${target.kind}://${target.host}:${target.port}`;
}

/**
 * The reason alone, for a person: grpc-js says "No connection established. Last error: Error:
 * connect ENOENT /x. Resolution note: " and the reconnect layer prefixes the method and the
 * target, which the line names already.
 */
export function connectReason(message: string, target: NetworkTarget): string {
  let reason = message;
  const last = /Last error: (?:Error: )?([\s\S]*?)\.?(?: Resolution note:[\s\S]*)?$/.exec(reason);
  if (last?.[1]) reason = last[1];
  reason = reason.replace(/^\/[\w.]+\/\w+: /, "");
  const prefix = `cannot reach ${describeTarget(target)}: `;
  if (reason.startsWith(prefix)) reason = reason.slice(prefix.length);
  return reason.trim() || message;
}

/** node's TLS verification failures (OpenSSL's X509 reasons and the host name check). */
const CERTIFICATE_FAILURE = /certificate|altnames|self[- ]signed/i;

/** A failed first contact, with what to check: is a server listening there, is TLS trusted. */
export function explainConnectError(err: unknown, target: NetworkTarget): TetherError {
  const te = TetherError.from(err);
  if (te.code === ErrorCode.Unavailable || te.code === ErrorCode.DeadlineExceeded) {
    // node's own advice (run node with --use-system-ca) is not something a tether user does.
    const reason = connectReason(te.message, target).replace(/; if the root CA is installed locally, try running Node\.js with --use-system-ca/, "");
    const hint =
      target.kind === "unix"
        ? `is an exec server listening on ${target.path}? start one with: tether exec-server --listen unix://${target.path}`
        : target.kind === "grpcs" && CERTIFICATE_FAILURE.test(reason)
          ? "the server's certificate is not trusted here: pass --ca-file with the CA that signed it, or add that CA to this machine's (NODE_EXTRA_CA_CERTS=FILE)"
          : `is an exec server listening on ${target.host}:${target.port}${target.kind === "grpcs" ? " with TLS (check --ca-file)" : ""}?`;
    return new TetherError(ErrorCode.Unavailable, `cannot reach ${describeTarget(target)}: ${reason}; ${hint}`, { cause: err });
  }
  return te;
}

/** The lean client's target string (lean-channel.ts): IPv6 hosts in brackets. */
export function leanTarget(target: NetworkTarget): string {
  return target.kind === "unix" ? `unix://${target.path}` : `${target.kind}://${target.host.includes(":") ? `[${target.host}]` : target.host}:${target.port}`;
}

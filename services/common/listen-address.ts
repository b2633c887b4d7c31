// Parses where an exec server listens and what that requires: a Unix socket needs
// nothing more (0600), TCP off loopback needs TLS and a token.
import { isIP } from "node:net";
import path from "node:path";
import { ErrorCode, TetherError } from "./tether-error.js";

export type ListenAddress =
  | { kind: "unix"; path: string }
  | { kind: "tcp"; host: string; port: number; loopback: boolean };

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || (isIP(host) === 4 && host.startsWith("127."));
}

export function parseListenAddress(url: string): ListenAddress {
  if (url.startsWith("unix://")) {
    const file = url.slice("unix://".length);
    if (!path.isAbsolute(file)) {
      throw new TetherError(ErrorCode.InvalidArgument, `listen address ${url}: the socket path must be absolute (unix:///run/tether.sock)`);
    }
    return { kind: "unix", path: file };
  }
  const tcp = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})$/.exec(url);
  if (tcp) {
    const host = tcp[1]!.replace(/^\[|\]$/g, "");
    const port = Number(tcp[2]);
    if (port > 65535) throw new TetherError(ErrorCode.InvalidArgument, `listen address ${url}: port must be 0-65535`);
    return { kind: "tcp", host, port, loopback: isLoopback(host) };
  }
  throw new TetherError(
    ErrorCode.InvalidArgument,
    `listen address ${JSON.stringify(url)} is not understood: use unix:///path/to.sock or tcp://host:port`,
  );
}

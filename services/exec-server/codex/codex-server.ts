// Serves Codex's exec-server protocol over WebSocket (the `ws` package) onto the same
// ExecCore the gRPC server uses: ws://host:port, wss://host:port (TLS from the server's
// flags) or ws+unix:///path (0600, for a host-side bridge into a container). TCP_NODELAY on
// every socket (Codex's own server leaves Nagle on and waits ~40 ms per exchange), a bound
// on message size, and the bearer token checked at the upgrade, in constant time.
import { createHash, timingSafeEqual } from "node:crypto";
import { chmod, rm } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import { type Logger, createLogger } from "../../common/logger.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { ExecCore } from "../exec-core.js";
import { type ListenAddress, parseListenAddress } from "../../common/listen-address.js";
import { prepareSocketPath } from "../../common/socket-path.js";
import { CodexConnection, type ConnectionHost } from "./codex-connection.js";

export interface CodexServerOptions {
  /** ws://host:port, wss://host:port or ws+unix:///path. */
  listen: string;
  token?: string;
  tls?: { cert: Buffer; key: Buffer; clientCa?: Buffer };
  /** Largest frame accepted; a bigger one closes the connection with 1009. Default 64 MiB. */
  maxMessageBytes?: number;
  /** One line per finished request (debug; warn for server faults) and connection trouble. */
  logger?: Logger;
}

export interface CodexServer extends AsyncDisposable {
  readonly address: ListenAddress;
  readonly url: string;
  refuseNewCalls(): void;
  close(): Promise<void>;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 64 << 20;

export function isCodexListen(url: string): boolean {
  return /^(wss?|ws\+unix):\/\//.test(url);
}

/** The operator's flags are what to change: the CLI exits 2 (usage) for these. */
const USAGE = { details: { usage: "true" } };

function parseCodexListen(url: string): { address: ListenAddress; secure: boolean } {
  const unix = /^ws\+unix:\/\/(.*)$/.exec(url);
  if (unix) return { address: parseListenAddress(`unix://${unix[1]}`), secure: false };
  const tcp = /^(wss?):\/\/(.*?)\/?$/.exec(url);
  if (!tcp) throw new TetherError(ErrorCode.InvalidArgument, `listen address ${JSON.stringify(url)}: use ws://host:port, wss://host:port or ws+unix:///path`);
  const address = parseListenAddress(`tcp://${tcp[2]}`);
  return { address, secure: tcp[1] === "wss" };
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

export async function startCodexServer(core: ExecCore, options: CodexServerOptions): Promise<CodexServer> {
  const { address, secure } = parseCodexListen(options.listen);
  if (secure && !options.tls) throw new TetherError(ErrorCode.InvalidArgument, `${options.listen}: wss:// needs --tls-cert and --tls-key`);
  if (address.kind === "tcp" && !address.loopback) {
    if (!secure) throw new TetherError(ErrorCode.FailedPrecondition, `refusing to serve Codex on ${address.host}:${address.port} without TLS: use wss:// with --tls-cert and --tls-key, or bind to 127.0.0.1`, USAGE);
    if (!options.token) throw new TetherError(ErrorCode.FailedPrecondition, `refusing to serve Codex on ${address.host}:${address.port} without a bearer token: pass --token-file, or bind to 127.0.0.1`, USAGE);
  }
  const logger = (options.logger ?? createLogger({ name: "exec-server", level: "silent" })).child({ door: "codex" });
  const expected = options.token === undefined ? undefined : digest(options.token);
  const host: ConnectionHost = { core, bySession: new Map(), logger };
  const connections = new Set<CodexConnection>();
  let refusing = false;

  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES, perMessageDeflate: false });
  const server = secure
    ? https.createServer({ cert: options.tls!.cert, key: options.tls!.key, ca: options.tls!.clientCa, requestCert: options.tls!.clientCa !== undefined, rejectUnauthorized: options.tls!.clientCa !== undefined })
    : http.createServer();
  server.on("connection", (socket: Socket) => socket.setNoDelay?.(true));
  server.on("request", (_req, res) => {
    res.writeHead(426, { "content-type": "text/plain", upgrade: "websocket" }).end("this is tether's Codex exec-server endpoint: connect with a WebSocket\n");
  });
  server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const reject = (status: number, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${text}\n`);
    };
    if (refusing) return reject(503, "the exec server is shutting down");
    if (expected && !tokenMatches(expected, req.headers.authorization)) {
      return reject(401, req.headers.authorization ? "the bearer token is wrong" : "this server requires a bearer token: set auth_bearer_token in environments.toml");
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = new CodexConnection(ws, host);
      connections.add(conn);
      ws.once("close", () => connections.delete(conn));
    });
  });

  let url: string;
  if (address.kind === "unix") {
    await prepareSocketPath(address.path);
    const oldUmask = process.umask(0o177);
    try {
      await listen(server, { path: address.path }, options.listen);
    } finally {
      process.umask(oldUmask);
    }
    await chmod(address.path, 0o600);
    url = `ws+unix://${address.path}`;
  } else {
    await listen(server, { host: address.host, port: address.port }, options.listen);
    const port = (server.address() as AddressInfo).port;
    const h = address.host.includes(":") ? `[${address.host}]` : address.host;
    url = `${secure ? "wss" : "ws"}://${h}:${port}`;
  }

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      refusing = true;
      for (const conn of connections) conn.terminate(1001, "the exec server is shutting down");
      wss.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (address.kind === "unix") await rm(address.path, { force: true });
    })());
  return { address, url, refuseNewCalls: () => (refusing = true), close, [Symbol.asyncDispose]: close };
}

function tokenMatches(expected: Buffer, header: string | undefined): boolean {
  const match = header === undefined ? null : /^Bearer\s+(.+)$/i.exec(header.trim());
  return match !== null && timingSafeEqual(digest(match[1]!), expected);
}

function listen(server: http.Server, at: { path: string } | { host: string; port: number }, target: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE") reject(new TetherError(ErrorCode.AlreadyExists, `cannot listen on ${target}: the address is in use; pick another port (port 0 picks a free one)`, { cause: err }));
      else reject(TetherError.from(err, `cannot listen on ${target}`));
    });
    server.listen(at, () => resolve());
  });
}

// The managed HTTP(S) proxy a NETWORK_MODE_PROXY sandbox reaches the network through:
// CONNECT tunnels for https, absolute-URI forwarding for http. It listens on a Unix
// socket (bind-mounted into the sandbox) and refuses with HTTP 403 plus an
// `x-tether-proxy-reason` header, so the command's own error says why.

import dns from "node:dns";
import fs from "node:fs";
import type * as Http from "node:http";
import net from "node:net";
import type { Duplex } from "node:stream";
import { TetherError, throwIfAborted } from "../../common/tether-error.js";
import { HostRules, type HostDecision, normaliseHost } from "./host-rules.js";

// Not `import http from "node:http"`: as an ES module import, node:http's exports are all read
// at once, its lazy WebSocket/EventSource getters included, which load undici (≈ 20 ms of CPU
// in every process that loads the exec core, the agent's first request waiting on it).
const http: typeof Http = process.getBuiltinModule("node:http");

export const PROXY_REASON_HEADER = "x-tether-proxy-reason";

export interface NetworkProxyOptions {
  socketPath: string;
  allowHosts: string[];
  denyHosts: string[];
  /** Client connections served at once; more are refused by the kernel backlog/close. */
  maxConnections?: number;
  /** How a host name becomes an address; injected so tests need no DNS. */
  lookup?: (host: string) => Promise<string>;
  connectTimeoutMs?: number;
  /**
   * Asks whoever controls the process about a host matching neither list (sandbox
   * network.ask_controller); deny rules still win without asking. The signal aborts when
   * the client's connection closes.
   */
  ask?: (request: { host: string; port: number; protocol: "http" | "https" }, signal: AbortSignal) => Promise<{ allowed: boolean; reason?: string }>;
  /** Each refused connection ("host:port (reason)"), for ExitStatus.sandbox_denied. */
  onDenied?: (what: string) => void;
}

const DEFAULT_MAX_CONNECTIONS = 256;
/** RFC 1035's longest name (+2 below for brackets or a trailing dot): bounds rule matching. */
const MAX_HOST_LENGTH = 253;
const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
// Headers that describe the hop to the proxy, not the request: never forwarded.
const HOP_HEADERS = new Set(["proxy-connection", "proxy-authorization", "connection", "keep-alive", "te", "trailer", "upgrade"]);

export class NetworkProxy implements AsyncDisposable {
  readonly socketPath: string;
  private readonly rules: HostRules;
  private readonly server: Http.Server;
  private readonly sockets = new Set<Duplex>();
  private readonly lookup: (host: string) => Promise<string>;
  private readonly connectTimeoutMs: number;
  private readonly ask: NetworkProxyOptions["ask"];
  private readonly onDenied: NetworkProxyOptions["onDenied"];
  private closing: Promise<void> | undefined;

  private constructor(options: NetworkProxyOptions) {
    this.socketPath = options.socketPath;
    this.rules = new HostRules(options);
    this.lookup = options.lookup ?? defaultLookup;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.ask = options.ask;
    this.onDenied = options.onDenied;
    this.server = http.createServer();
    this.server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.server.on("connection", (s: net.Socket) => this.track(s));
    this.server.on("request", (req, res) => void this.forward(req, res));
    this.server.on("connect", (req: Http.IncomingMessage, socket: Duplex, head: Buffer) => void this.tunnel(req, socket, head));
    this.server.on("clientError", (_err, socket: Duplex) => refuse(socket, 400, "malformed proxy request"));
  }

  static async start(options: NetworkProxyOptions, opts: { signal?: AbortSignal } = {}): Promise<NetworkProxy> {
    throwIfAborted(opts.signal);
    const proxy = new NetworkProxy(options);
    // A stale socket from a crashed run would make listen fail with EADDRINUSE.
    fs.rmSync(options.socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      proxy.server.once("error", reject);
      proxy.server.listen(options.socketPath, () => {
        proxy.server.off("error", reject);
        resolve();
      });
    }).catch((err: unknown) => {
      throw TetherError.from(err, `starting the sandbox network proxy on ${options.socketPath}`);
    });
    fs.chmodSync(options.socketPath, 0o600);
    return proxy;
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    }).then(() => fs.rmSync(this.socketPath, { force: true }));
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private track(s: Duplex): void {
    this.sockets.add(s);
    s.once("close", () => this.sockets.delete(s));
  }

  /**
   * Host rules first (or the controller, for a host no rule names, when asking is on), then
   * the resolved address (so a name cannot smuggle in 127.0.0.1). A refusal is reported.
   */
  private async admit(
    host: string,
    port: number,
    protocol: "http" | "https",
    client: Duplex,
  ): Promise<{ address: string } | { refusal: HostDecision & { allowed: false }; status: number }> {
    const admitted = await this.decide(host, port, protocol, client);
    if ("refusal" in admitted && admitted.status === 403) this.onDenied?.(`${normaliseHost(host)}:${port} (${admitted.refusal.reason})`);
    return admitted;
  }

  private async decide(
    host: string,
    port: number,
    protocol: "http" | "https",
    client: Duplex,
  ): Promise<{ address: string } | { refusal: HostDecision & { allowed: false }; status: number }> {
    if (host.length > MAX_HOST_LENGTH + 2) {
      return { refusal: { allowed: false, reason: `host name of ${host.length} characters: the limit is ${MAX_HOST_LENGTH}` }, status: 400 };
    }
    let controllerAllowed = false;
    if (this.ask) {
      const listed = this.rules.classify(host);
      if (listed.list === "deny") return { refusal: { allowed: false, reason: listed.reason }, status: 403 };
      if (listed.list === "unlisted") {
        const gone = new AbortController();
        const onClose = () => gone.abort();
        client.once("close", onClose);
        let answer: { allowed: boolean; reason?: string };
        try {
          answer = await this.ask({ host: normaliseHost(host), port, protocol }, gone.signal);
        } catch (err) {
          answer = { allowed: false, reason: `asking the controller failed: ${errText(err)}` };
        } finally {
          client.off("close", onClose);
        }
        if (!answer.allowed) return { refusal: { allowed: false, reason: answer.reason ?? `host ${normaliseHost(host)} was not allowed` }, status: 403 };
        controllerAllowed = true;
      }
    } else {
      const byName = this.rules.decide(host);
      if (!byName.allowed) return { refusal: byName, status: 403 };
    }
    let address: string;
    try {
      address = await this.lookup(host);
    } catch (err) {
      return { refusal: { allowed: false, reason: `host ${host} could not be resolved (${errText(err)})` }, status: 502 };
    }
    const byAddress = this.rules.decideAddress(host, address, controllerAllowed);
    if (!byAddress.allowed) return { refusal: byAddress, status: 403 };
    return { address };
  }

  private async forward(req: Http.IncomingMessage, res: Http.ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? "");
    } catch {
      return reply(res, 400, "only absolute-URI requests (http://host/path) and CONNECT are proxied");
    }
    if (url.protocol !== "http:") return reply(res, 400, `scheme ${url.protocol} is not proxied: use CONNECT for https`);
    const admitted = await this.admit(url.hostname, Number(url.port || 80), "http", req.socket);
    if ("refusal" in admitted) return reply(res, admitted.status, admitted.refusal.reason);

    const headers: Http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (!HOP_HEADERS.has(name) && value !== undefined) headers[name] = value;
    }
    headers.host = url.host;
    const upstream = http.request({
      host: admitted.address,
      port: Number(url.port || 80),
      method: req.method,
      path: `${url.pathname}${url.search}`,
      headers,
      setHost: false,
      // One upstream connection per request: no pool of idle sockets to arbitrary hosts.
      agent: false,
      timeout: this.connectTimeoutMs,
    });
    upstream.on("socket", (s) => this.track(s));
    upstream.on("timeout", () => upstream.destroy(new Error("timed out")));
    upstream.on("error", (err) => {
      if (!res.headersSent) reply(res, 502, `upstream ${url.host} failed: ${errText(err)}`);
      else res.destroy();
    });
    upstream.on("response", (up) => {
      const back: Http.OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(up.headers)) if (!HOP_HEADERS.has(name) && value !== undefined) back[name] = value;
      res.writeHead(up.statusCode ?? 502, back);
      up.pipe(res);
    });
    req.pipe(upstream);
  }

  private async tunnel(req: Http.IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    const target = parseAuthority(req.url ?? "");
    if (target === undefined) return refuse(client, 400, `CONNECT target "${req.url}" is not host:port`);
    const admitted = await this.admit(target.host, target.port, "https", client);
    if ("refusal" in admitted) return refuse(client, admitted.status, admitted.refusal.reason);

    const upstream = net.connect({ host: admitted.address, port: target.port, timeout: this.connectTimeoutMs });
    this.track(upstream);
    upstream.once("timeout", () => upstream.destroy(new Error("timed out")));
    upstream.once("error", (err) => {
      if (upstream.connecting || upstream.bytesWritten === 0) refuse(client, 502, `upstream ${req.url} failed: ${errText(err)}`);
      else client.destroy();
    });
    upstream.once("connect", () => {
      upstream.setTimeout(0);
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
      client.on("error", () => upstream.destroy());
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
  }
}

function parseAuthority(authority: string): { host: string; port: number } | undefined {
  try {
    const url = new URL(`http://${authority}`);
    const port = Number(url.port || 443);
    if (url.hostname === "" || url.pathname !== "/" || !Number.isInteger(port)) return undefined;
    return { host: url.hostname, port };
  } catch {
    return undefined; // Unparseable: the caller answers 400.
  }
}

async function defaultLookup(host: string): Promise<string> {
  const bare = host.startsWith("[") ? host.slice(1, -1) : host;
  if (net.isIP(bare) !== 0) return bare;
  const { address } = await dns.promises.lookup(bare);
  return address;
}

function reply(res: Http.ServerResponse, status: number, reason: string): void {
  const body = `tether sandbox proxy: ${reason}\n`;
  res.writeHead(status, {
    [PROXY_REASON_HEADER]: headerSafe(reason),
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    connection: "close",
  });
  res.end(body);
}

/** Answers on a raw socket (CONNECT and parse errors have no ServerResponse). */
function refuse(socket: Duplex, status: number, reason: string): void {
  if (socket.destroyed || !socket.writable) return;
  const body = `tether sandbox proxy: ${reason}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? "Error"}\r\n` +
      `${PROXY_REASON_HEADER}: ${headerSafe(reason)}\r\n` +
      `content-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function headerSafe(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, "?");
}

function errText(err: unknown): string {
  if (err instanceof Error) return "code" in err && typeof err.code === "string" ? err.code : err.message;
  return String(err);
}

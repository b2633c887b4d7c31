// The server stack both tether servers (exec and agent) run on: grpc-js behind the shutdown
// gate and the bearer-token interceptor, health and reflection, on a Unix socket (0600) or
// TCP (TLS and a token off loopback). Each server registers its own services.
import * as grpc from "@grpc/grpc-js";
import type { DescFile } from "@bufbuild/protobuf";
import { chmod, rm } from "node:fs/promises";
import { file_grpc_health_v1_health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { ErrorCode, TetherError } from "./tether-error.js";
import type { Logger } from "./logger.js";
import { loggingInterceptor } from "./logging-interceptor.js";
import { bearerTokenInterceptor, shutdownGateInterceptor } from "./auth-interceptor.js";
import { HealthStatus, addHealthService } from "./health-service.js";
import { type ListenAddress, parseListenAddress } from "./listen-address.js";
import { widenReceiveWindows } from "./grpc-js-internals.js";
import { addReflectionService } from "./reflection.js";
import { prepareSocketPath } from "./socket-path.js";

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  /** When set, clients must present a certificate signed by this CA (mTLS). */
  clientCa?: Buffer;
}

export interface GrpcServerOptions {
  listen: string;
  token?: string;
  tls?: TlsFiles;
  /** One line per finished call (debug; warn for server faults). */
  logger?: Logger;
}

export interface GrpcServer extends AsyncDisposable {
  readonly address: ListenAddress;
  /** The URL clients use: unix:///path or grpc(s)://host:port with the real port. */
  readonly url: string;
  /** First step of a shutdown: health says NOT_SERVING and new calls get UNAVAILABLE. */
  refuseNewCalls(): void;
  close(): Promise<void>;
}

export const SERVER_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  "grpc.max_receive_message_length": 16 << 20,
  "grpc.max_send_message_length": 16 << 20,
  // Notice dead clients (cut cables) so their sessions start their detached countdown.
  "grpc.keepalive_time_ms": 20_000,
  "grpc.keepalive_timeout_ms": 10_000,
  "grpc.http2.min_ping_interval_without_data_ms": 5_000,
  "grpc.keepalive_permit_without_calls": 1,
  // Nothing reads channelz (no channelz service is served); on, grpc-js keeps counters and
  // Date.now() stamps per call and per message, and wraps each call's handler for them.
  "grpc.enable_channelz": 0,
};

/** The operator's flags are what to change: the CLI exits 2 (usage) for these. */
const USAGE = { details: { usage: "true" } };

function checkSecurity(address: ListenAddress, options: GrpcServerOptions): void {
  if (address.kind !== "tcp" || address.loopback) return;
  if (!options.tls) {
    throw new TetherError(
      ErrorCode.FailedPrecondition,
      `refusing to listen on ${address.host}:${address.port} without TLS: pass --tls-cert and --tls-key, or bind to 127.0.0.1`,
      USAGE,
    );
  }
  if (!options.token) {
    throw new TetherError(
      ErrorCode.FailedPrecondition,
      `refusing to listen on ${address.host}:${address.port} without a bearer token: pass --token-file, or bind to 127.0.0.1`,
      USAGE,
    );
  }
}

function bind(server: grpc.Server, target: string, creds: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) =>
    server.bindAsync(target, creds, (err, port) => {
      if (err) return reject(bindError(err, target));
      // Right in the listen callback: no connection can be accepted before this.
      widenReceiveWindows(server);
      resolve(port);
    }),
  );
}

/** grpc-js reports every bind failure as a plain Error with the errno inside its message. */
function bindError(err: Error, target: string): TetherError {
  if (/EADDRINUSE/.test(err.message)) {
    return new TetherError(ErrorCode.AlreadyExists, `cannot listen on ${target}: the address is in use; stop the other server or pick another port (port 0 picks a free one)`, { cause: err });
  }
  if (/EACCES/.test(err.message)) {
    return new TetherError(ErrorCode.PermissionDenied, `cannot listen on ${target}: permission denied; pick a port above 1023 or a path you may write`, { cause: err });
  }
  if (/EADDRNOTAVAIL/.test(err.message)) {
    return new TetherError(ErrorCode.InvalidArgument, `cannot listen on ${target}: no interface of this machine has that address`, { cause: err });
  }
  return TetherError.from(err, `cannot listen on ${target}`);
}

export interface ServedServices {
  /** Adds the server's own services. */
  register(server: grpc.Server): void;
  /** Their full names, reported by health. */
  serviceNames: string[];
  /** Their descriptors, served by reflection. */
  files: DescFile[];
}

export async function startGrpcServer(services: ServedServices, options: GrpcServerOptions): Promise<GrpcServer> {
  const address = parseListenAddress(options.listen);
  checkSecurity(address, options);
  let closing: Promise<void> | undefined;
  let refusing = false;
  const interceptors = [
    // First, so refused and unauthenticated calls are logged too.
    ...(options.logger ? [loggingInterceptor(options.logger)] : []),
    shutdownGateInterceptor(() => refusing),
    ...(options.token ? [bearerTokenInterceptor(options.token)] : []),
  ];
  const server = new grpc.Server({ ...SERVER_CHANNEL_OPTIONS, interceptors });

  const health = new HealthStatus(services.serviceNames);
  services.register(server);
  addHealthService(server, health);
  addReflectionService(server, [...services.files, file_grpc_health_v1_health]);

  const creds = options.tls
    ? grpc.ServerCredentials.createSsl(options.tls.clientCa ?? null, [{ cert_chain: options.tls.cert, private_key: options.tls.key }], options.tls.clientCa !== undefined)
    : grpc.ServerCredentials.createInsecure();

  let url: string;
  if (address.kind === "unix") {
    await prepareSocketPath(address.path);
    // The socket is created 0600: nobody else on the machine may run commands through it.
    const oldUmask = process.umask(0o177);
    try {
      await bind(server, `unix://${address.path}`, creds);
    } finally {
      process.umask(oldUmask);
    }
    await chmod(address.path, 0o600);
    url = `unix://${address.path}`;
  } else {
    const host = address.host.includes(":") ? `[${address.host}]` : address.host;
    const port = await bind(server, `${host}:${address.port}`, creds);
    url = `${options.tls ? "grpcs" : "grpc"}://${host}:${port}`;
  }

  const refuseNewCalls = () => {
    refusing = true;
    health.setAll(HealthCheckResponse_ServingStatus.NOT_SERVING);
  };
  const close = () =>
    (closing ??= (async () => {
      refuseNewCalls();
      await new Promise<void>((resolve) => {
        // Drain for a moment, then cut whatever is still streaming.
        const timer = setTimeout(() => server.forceShutdown(), 2000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      if (address.kind === "unix") await rm(address.path, { force: true });
    })());
  return { address, url, refuseNewCalls, close, [Symbol.asyncDispose]: close };
}
